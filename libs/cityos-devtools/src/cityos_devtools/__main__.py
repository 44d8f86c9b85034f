"""`python -m cityos_devtools`: the same as the `cityos-dev` command."""

import sys

from cityos_devtools.cli import main

if __name__ == "__main__":
    sys.exit(main())
