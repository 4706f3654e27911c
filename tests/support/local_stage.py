"""What the end-to-end tests share to start ``python -m local.stage``."""

from __future__ import annotations

import os
from pathlib import Path

from topicdesk.contract import Env

# A developer's real bot (local/telegram_link.py) and operators' group must not leak into a
# test's stage: without them it makes its own emulator, token and group.
REAL_TELEGRAM = (Env.TELEGRAM_API_URL, "TELEGRAM_BOT_TOKEN", "OPERATOR_CHAT_ID")


def stage_environment(state_dir: Path) -> dict[str, str]:
    """This process's environment for a stage that keeps its state in ``state_dir``."""
    environment = {name: value for name, value in os.environ.items() if name not in REAL_TELEGRAM}
    environment["TOPICDESK_LOCAL_DIR"] = str(state_dir)
    return environment
