"""The webhook's secret, read with botocore (``CachedSecret``): kept five minutes like
Powertools parameters keep the others' secrets, a failed read neither cached nor leaked, the
value redacted from every log line once read."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from topicdesk.adapters import redaction
from topicdesk.adapters.aws import SECRET_CACHE_SECONDS, CachedSecret
from topicdesk.domain.errors import StorageUnavailable

SECRET = "webhook-secret-under-test_0123456789"


class SecretsManager:
    """``get_secret_value`` as botocore's client answers it, counting the calls."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.calls.append(SecretId)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_read_once_then_kept_for_the_cache_time_then_read_again() -> None:
    client = SecretsManager({"SecretString": f" {SECRET}\n"}, {"SecretString": "rotated-" + SECRET})
    clock = Clock()
    secret = CachedSecret(client, "topicdesk/test/webhook-secret", clock=clock)
    assert secret() == SECRET
    clock.now += SECRET_CACHE_SECONDS - 1
    assert secret() == SECRET
    assert client.calls == ["topicdesk/test/webhook-secret"]
    clock.now += 1
    assert secret() == "rotated-" + SECRET
    assert len(client.calls) == 2
    assert redaction.redact(f"x {SECRET} y") == f"x {redaction.REDACTED} y"


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue"),
        EndpointConnectionError(endpoint_url="https://secretsmanager"),
        {"SecretBinary": b"not a string"},
    ],
)
def test_a_failed_read_is_storage_unavailable_and_the_next_call_reads_again(
    failure: Any,
) -> None:
    client = SecretsManager(failure, {"SecretString": SECRET})
    secret = CachedSecret(client, "name", clock=Clock())
    with pytest.raises(StorageUnavailable, match="secret name"):
        secret()
    assert secret() == SECRET
    assert len(client.calls) == 2
