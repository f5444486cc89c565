"""Entry point: `python -m bot` (see bot/cli.py for the commands)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
