"""The sandbox: try the whole notebook in a browser, with no token and no internet.

`python -m bot` without a TELEGRAM_BOT_TOKEN (or `python -m bot sandbox`) starts, in one process
on 127.0.0.1: the project's Bot API emulator, the real bot polling it, a demo community
(demo.py) in its own SQLite file, and a Telegram-like web page (web.py, static/) on port 8080.
The sandbox has its own clock (clock.py) that the page can move forward to see reminders and the
weekly digest. It never talks to the real Telegram (runtime.ensure_local).
"""


class SandboxError(Exception):
    """The sandbox cannot start; the message is one line for the person who ran it."""
