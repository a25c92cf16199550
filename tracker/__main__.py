"""`python -m tracker`: the same as the `tracker` command."""

import sys

try:
    from tracker.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while still loading: no traceback
    sys.exit(130)

sys.exit(main())
