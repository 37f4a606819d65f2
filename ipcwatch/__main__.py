"""`python -m ipcwatch` runs the command line."""

from ipcwatch.cli import main

raise SystemExit(main())
