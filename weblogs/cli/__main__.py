"""`python -m weblogs.cli` is the `weblogs` command too."""

import sys

from weblogs.cli import main

sys.exit(main())
