"""The bench tests import `loadtests` from the repository root, whichever way pytest was started."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `python -m pytest` puts the working directory on sys.path but the `pytest` script (make test) does not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
