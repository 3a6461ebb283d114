"""The Telegram channel: python-telegram-bot handlers over the shared conversation service.

Entry points: `bot.telegram.application.build_application` (all handlers, wired in one place) and
`bot.telegram.runner.TelegramRunner` (polling or webhook, in a background thread; `tanya serve` starts it).
This package file stays import-free so that registering the channel's tables does not load python-telegram-bot.
"""
