"""`python -m ingestion`: run the API consumer (the container's entry point)."""

import sys

from ingestion.main import main

sys.exit(main())
