"""``python -m hearing_server``."""

import sys

from hearing_server.cli import main

sys.exit(main())
