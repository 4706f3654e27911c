"""API Gateway's management API as the widget edge uses it: one last frame, then a close.

``GoneException`` (410: the connection closed already) is the outcome the close wanted; any
other failure becomes ``StorageUnavailable``.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.domain.errors import StorageUnavailable


def _gone(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "GoneException")


class ManagementApiControl:
    """``client``: ``boto3.client("apigatewaymanagementapi", endpoint_url=<the stage's URL>)``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def post(self, connection_id: str, frame: dict[str, Any]) -> None:
        data = json.dumps(frame, ensure_ascii=False).encode("utf-8")
        self._call("post_to_connection", ConnectionId=connection_id, Data=data)

    def close(self, connection_id: str) -> None:
        self._call("delete_connection", ConnectionId=connection_id)

    def _call(self, method: str, **kwargs: Any) -> None:
        try:
            getattr(self._client, method)(**kwargs)
        except ClientError as error:
            if not _gone(error):
                raise StorageUnavailable(f"management API {method} failed") from error
        except BotoCoreError as error:
            raise StorageUnavailable(
                f"management API unreachable: {type(error).__name__}"
            ) from error
