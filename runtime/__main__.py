"""Allow `python -m kdns.runtime`."""

import sys

from kdns.runtime.cli import main

sys.exit(main())
