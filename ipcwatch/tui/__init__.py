"""The Textual dashboard: a thin App over the scan snapshot (the only package that imports textual)."""
