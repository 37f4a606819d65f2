"""Widgets of the ipcwatch dashboard."""
