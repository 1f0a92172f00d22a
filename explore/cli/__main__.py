"""``python -m explore.cli`` is the ``explore`` command."""

import sys

from explore.cli.commands import main

sys.exit(main())
