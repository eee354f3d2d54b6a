"""`python -m usage_monitor`: the same command line as the `usage-monitor` script."""

import sys

from usage_monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
