"""``python -m djlint``: the same as the ``djlint`` command."""

import sys

from djlint.cli import main

sys.exit(main())
