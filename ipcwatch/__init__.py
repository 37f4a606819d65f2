"""ipcwatch: every live IPC object on a Linux host, who holds it, and who is waiting on it."""

__version__ = "0.1.0"
