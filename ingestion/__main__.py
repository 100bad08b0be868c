"""`python -m ingestion`: run the API consumer (the container's entry point)."""

import sys

from ingestion.consumer import main

sys.exit(main())
