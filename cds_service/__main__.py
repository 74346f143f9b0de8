"""`python -m cds_service` runs the command-line interface."""

import sys

from cds_service.cli import main

sys.exit(main())
