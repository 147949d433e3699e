"""``python -m skreward``: the same as the ``skreward`` command."""

import sys

from .experiments._cli import main

sys.exit(main())
