"""The effects API: how a feature says what should happen beyond its database changes.

The rule (docs/architecture.md): a handler changes the notebook through storage/ and declares
what to send; it never commits, rolls back or touches the network itself. Inside an update,
every Bot API call a handler makes (`context.bot.send_message`, `query.edit_message_text`…)
is kept and goes out after the update's commit, in the order made (delivery/answers.py). What
a feature queues in the outbox (storage/outbox.py) goes out after the commit too.

- `then(hook, **args)`: the message sent inside this block runs the after-send hook `hook`
  (registered by name by the application factory, bot/app.py) with the message Telegram
  returned, in a transaction of its own, right after it was sent: to remember a prompt's id.
- `kick(app)`: outside an update (a job that queued outbox rows), ask the dispatcher to send
  now rather than at its next poll. Inside an update there is nothing to do.
- `afterwards(work)`: heavy work the update hands over (a file to export, a digest asked for):
  it runs after the update's commit and answers, outside the update, so that neither the
  update's transaction nor its chat's turn waits for it, and a press is answered at once.
  The work reads through `Database.reading()` and writes nothing; its Bot API calls go out at
  once. One such work runs at a time (bot/app.py); a work left undone by a crash or a stop is
  not done again (the person asks again), and one that fails is logged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from runtime.context import CURRENT_SCOPE
from runtime.rendering import Sent

# After a sent message: (session, the message, the hook's arguments).
Hook = Callable[[AsyncSession, Sent, dict[str, Any]], Awaitable[None]]

AFTER_SEND: ContextVar[dict[str, Any] | None] = ContextVar("notebook_after_send", default=None)


@contextlib.contextmanager
def then(hook: str, **args: Any) -> Iterator[None]:
    """The message sent inside this block runs `hook` with the message Telegram returned,
    right after it was sent: `args` must be JSON."""
    token = AFTER_SEND.set({"hook": hook, "args": args})
    try:
        yield
    finally:
        AFTER_SEND.reset(token)


Work = Callable[[], Awaitable[None]]


def afterwards(work: Work) -> None:
    """Run `work` after this update's commit and answers, outside the update (see above)."""
    CURRENT_SCOPE.get().afterwards.append(work)


def kick(app: Any) -> None:
    """Send what a job just queued now, instead of at the dispatcher's next poll."""
    if CURRENT_SCOPE.get(None) is not None:
        return  # what an update queued is sent when it commits
    wake = getattr(app, "notebook", None) and app.notebook.wake_dispatcher
    if wake is not None:
        wake()
