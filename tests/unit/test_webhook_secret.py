"""The webhook's secret, read with botocore (``CachedSecret``): kept five minutes like
Powertools parameters keep the others' secrets, a failed read neither cached nor leaked, the
value redacted from every log line once read."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from topicdesk.adapters import redaction
from topicdesk.adapters.aws import SECRET_CACHE_SECONDS, SECRET_RECHECK_SECONDS, CachedSecret
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


def test_a_refused_secret_rereads_a_value_old_enough_once_per_period() -> None:
    """``recheck``: a rotation is picked up within ``SECRET_RECHECK_SECONDS``, and a flood of
    wrong secrets costs at most one read per period; a failed read keeps the old value."""
    rotated = "rotated-" + SECRET
    client = SecretsManager(
        {"SecretString": SECRET},
        EndpointConnectionError(endpoint_url="https://secretsmanager"),
        {"SecretString": rotated},
    )
    clock = Clock()
    secret = CachedSecret(client, "topicdesk/test/webhook-secret", clock=clock)
    assert secret() == SECRET
    clock.now += SECRET_RECHECK_SECONDS - 1
    assert secret.recheck() is False and len(client.calls) == 1  # too fresh: no read
    clock.now += 1
    assert secret.recheck() is False and secret() == SECRET  # the read failed: old kept
    assert secret.recheck() is False and len(client.calls) == 2  # one try per period
    clock.now += SECRET_RECHECK_SECONDS
    assert secret.recheck() is True and secret() == rotated
    assert len(client.calls) == 3
