"""devkit's Bot API emulator driven by python-telegram-bot."""
