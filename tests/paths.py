"""Where the repository and the recorded test data are, for tests at any depth."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
