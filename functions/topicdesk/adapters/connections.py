"""API Gateway's management API (``post_to_connection``) behind the domain's push port.

A frame reaches one open WebSocket connection of a widget session. API Gateway answers
``GoneException`` (410) for a connection that closed without ``$disconnect`` having run yet
(a phone that lost its network): that is an answer, not a failure (the connection is dropped
and the message kept for the visitor's return). Every other refusal or network error is a
``TransientFailure``: the record fails and comes back, so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.domain.errors import TransientFailure

GONE = "GoneException"


class ManagementApiPush:
    """``client``: ``boto3.client("apigatewaymanagementapi", endpoint_url=<the stage's
    https://<api>.execute-api.<region>.amazonaws.com/<stage>>)``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def post(self, connection_id: str, frame: Mapping[str, Any]) -> bool:
        """Send ``frame`` (one JSON object) to the connection; False when it is gone."""
        data = json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == GONE:
                return False
            code = error.response.get("Error", {}).get("Code", "unknown")
            raise TransientFailure(f"post_to_connection refused: {code}") from error
        except BotoCoreError as error:
            raise TransientFailure(f"post_to_connection failed: {type(error).__name__}") from error
        return True
