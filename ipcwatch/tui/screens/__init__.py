"""Screens of the ipcwatch dashboard."""
