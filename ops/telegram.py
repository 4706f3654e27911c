"""Bot API calls the CLI makes (webhook info/set/delete, getMe), with the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ops.resources import OpsError

# The same list the deploy-time registration uses (infra/webhook_registration.py).
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "my_chat_member",
    "message_reaction",
    "callback_query",
]


def call(
    api_url: str, token: str, method: str, *, http_timeout: float = 30.0, **params: Any
) -> Any:
    """One Bot API call; an ``ok: false`` answer or an unreachable server is an OpsError."""
    request = urllib.request.Request(  # noqa: S310 - the stage's configured Bot API URL
        f"{api_url.rstrip('/')}/bot{token}/{method}",
        data=json.dumps({k: v for k, v in params.items() if v is not None}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=http_timeout) as answer:  # noqa: S310
            payload = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        payload = json.loads(error.read() or b"{}")
    except (urllib.error.URLError, OSError) as error:
        raise OpsError(f"{method}: Bot API unreachable at {api_url}: {error}") from None
    if not payload.get("ok"):
        # The description never contains the token; the URL (which does) is not printed.
        raise OpsError(f"{method}: {payload.get('error_code')} {payload.get('description')}")
    return payload["result"]
