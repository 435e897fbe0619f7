"""`python -m kd_core.cli` == `kd-studio`."""
import sys

from kd_core.cli import main

sys.exit(main())
