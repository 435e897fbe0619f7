"""Start KD Studio on the embedded demo: `python app.py` (same as `kd-studio serve`)."""

import sys

from kd_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
