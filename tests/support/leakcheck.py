"""Secrets the suite uses, registered where they are made; the autouse fixture in conftest.py
fails any test whose log records contain one (message, arguments or extra fields)."""

from __future__ import annotations

import logging

SECRETS: set[str] = set()


def register_secret(value: str) -> str:
    if len(value) >= 8:  # too short to search for without false alarms
        SECRETS.add(value)
    return value


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def leaks(self) -> list[str]:
        found = []
        for record in self.records:
            try:
                text = f"{record.getMessage()} {record.__dict__}"
            except Exception:  # a record that cannot format is not our concern here
                text = repr(record.__dict__)
            for secret in SECRETS:
                if secret in text:
                    found.append(f"{record.name}:{record.levelname}: …{secret[:4]}… leaked")
        return found
