"""Bot API calls the CLI makes (webhook info/set/delete, getMe): the product's one stdlib
Bot API client (topicdesk.adapters.botapi_http), its errors as OpsError."""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.botapi_http import BotApiClient, BotApiError
from topicdesk.contract import ALLOWED_UPDATES

from ops.resources import OpsError

__all__ = ["ALLOWED_UPDATES", "call"]


def call(
    api_url: str, token: str, method: str, *, http_timeout: float = 30.0, **params: Any
) -> Any:
    """One Bot API call; an ``ok: false`` answer or an unreachable server is an OpsError
    (its text never contains the token)."""
    try:
        return BotApiClient(token, api_url, timeout=http_timeout).call(method, params)
    except BotApiError as error:
        if error.unreachable:
            raise OpsError(
                f"{method}: Bot API unreachable at {api_url}: {error.description}"
            ) from None
        raise OpsError(f"{method}: {error.code} {error.description}") from None
