"""`python -m mlmax` is the `mlmax` command."""

import sys

from mlmax.cli import main

sys.exit(main())
