"""Workflows any channel can use (staff accounts, analytics, curation of unanswered questions): no Gradio, no
Telegram. The channels (`ui/`, `bot.telegram`) call these; these never call a channel."""
