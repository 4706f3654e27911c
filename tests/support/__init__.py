"""What more than one test layer uses, in one place: the domain's in-memory fakes
(``fakes``), the stack on in-process moto (``aws_world``), the handlers wired to the Bot API
emulator (``pipeline``), the webhook on moto for property tests (``webhook_world``) and the
log secret check (``leakcheck``); and ``ROOT``, the repository's root."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
