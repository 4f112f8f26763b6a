"""``python -m bot`` works the same as the ``babyloss-bot`` command."""

import sys

from bot.cli import main

sys.exit(main())
