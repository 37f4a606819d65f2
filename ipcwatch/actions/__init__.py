"""Every side effect ipcwatch can have; each action re-verifies the object's identity just before acting."""
