"""The notebook's data and domain rules. Nothing here imports Telegram."""
