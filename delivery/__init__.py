"""Delivery: the durable inbox, the Bot API calls made after an update's commit, the outbox
dispatcher, the Bot API transport and Telegram's rate limits. Wired by bot/app.py; handlers
never import it (they declare what to send through runtime/)."""
