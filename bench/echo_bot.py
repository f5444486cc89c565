"""The baselines for bench/load.py: the smallest python-telegram-bot bots, on the same emulator,
run by the benchmark as their own processes. No database, no logic.

- `BASELINE=echo` (the default): answers every message with its text and every button press
  with an empty answer: one Bot API call per update, the target's baseline.
- `BASELINE=mirror`: makes the Bot API calls the notebook makes for the benchmark's load, and
  nothing else, through the notebook's own transport (aiohttp, delivery/telegram_http.py) on its
  event loop (uvloop). A message is answered with a button; each press is answered and the
  message edited; the fourth press also posts a card with a Claim button to the staff group
  (`STAFF_CHAT_ID`); a claim is answered, edits the card to name its owner and sends the
  resident a notice. What the notebook spends beyond it is its own work (storing, reading,
  deciding, rendering), apart from Telegram's calls.
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.cli import install_event_loop
from delivery.telegram_http import AiohttpRequest

STEPS = 4  # presses per report in bench.load's flow


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "ok")


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


def _button(text: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)]])


async def mirror_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    text = update.effective_message.text or "ok"
    await update.effective_message.reply_text(text, reply_markup=_button("Next", "step:1"))


async def mirror_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    assert isinstance(query.message, Message) and query.message.text is not None
    step = int(query.data.split(":")[1])
    await query.answer()
    text = f"{query.message.text.split(' | ')[0]} | step {step}"
    more = _button("Next", f"step:{step + 1}") if step < STEPS else None
    await query.edit_message_text(text, reply_markup=more)
    if step == STEPS:
        await context.bot.send_message(
            int(os.environ["STAFF_CHAT_ID"]),
            f"card: {text}",
            reply_markup=_button("Claim", f"claim:{query.message.chat.id}"),
        )


async def mirror_claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    assert isinstance(query.message, Message) and query.message.text is not None
    await query.answer()
    owner = f"Owner: {query.from_user.first_name}"
    await query.edit_message_text(f"{query.message.text}\n{owner}")
    await context.bot.send_message(int(query.data.split(":")[1]), owner)


def add_handlers(app: Application, baseline: str) -> None:
    if baseline == "mirror":
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE, mirror_message))
        app.add_handler(CallbackQueryHandler(mirror_step, pattern=r"^step:"))
        app.add_handler(CallbackQueryHandler(mirror_claim, pattern=r"^claim:"))
    else:
        app.add_handler(MessageHandler(filters.ALL, echo))
        app.add_handler(CallbackQueryHandler(pressed))


def main() -> None:
    baseline = os.environ.get("BASELINE", "echo")
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
    )
    if baseline == "mirror":  # the notebook's transport and loop (bot/app.py, bot/cli.py)
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connection_pool_size=1)
        )
        install_event_loop()
    app = builder.build()
    add_handlers(app, baseline)
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
