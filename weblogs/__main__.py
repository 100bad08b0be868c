"""`python -m weblogs` is the `weblogs` command."""

import sys

from weblogs.cli import main

sys.exit(main())
