"""`python -m harness.cli ...`: the same as `orca-eval ...`."""
import sys

from harness.cli import main

sys.exit(main())
