"""What a million updates cost on AWS, from what the benchmark counted per update.

Prices are AWS *list* prices for us-east-1 as published in 2025 (Lambda arm64 first tier,
SQS FIFO beyond the free tier, DynamoDB on-demand after the November 2024 price cut, Secrets
Manager API calls). They are constants here to be checked against the pricing pages before
anyone relies on them:
https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/sqs/pricing/,
https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/secrets-manager/pricing/

Not included: free tiers, CloudWatch (logs ingestion, EMF metrics, alarms), X-Ray, data
transfer, the Lambda SQS poller's empty receives (a fixed cost per month, not per update),
and storage (DynamoDB GB-month, SQS retention is free).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES_REGION = "us-east-1"
PRICES_AS_OF = "2025 list prices - check before relying on them"

LAMBDA_ARM64_GB_SECOND_USD = 0.0000133334
"""Lambda duration, arm64, first 6 billion GB-seconds a month."""
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
SQS_FIFO_REQUEST_USD = 0.50 / 1_000_000
"""Per request; every 64 KiB chunk of a request's payload is billed as one request."""
SQS_BILLING_CHUNK_BYTES = 64 * 1024
DYNAMODB_WRITE_REQUEST_UNIT_USD = 0.625 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT_USD = 0.125 / 1_000_000
SECRETS_MANAGER_API_CALL_USD = 0.05 / 10_000

# Loopback hides the network: billed durations add these round trips per call made. They are
# assumptions (typical in-region AWS latencies; Telegram's Bot API seen from us-east-1), not
# measurements - change them to taste.
ASSUMED_RTT_MS = {"sqs": 8.0, "dynamodb": 5.0, "secrets-manager": 10.0, "telegram": 80.0}


LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)."""


def billed_ms(own_wall_ms: float, cpu_ms: float, memory_mb: int, waits_ms: float = 0.0) -> float:
    """One invocation's billed duration from what the bench measured here: its own wall time
    (its CPU, on a full core of this machine, and the waits it really made), the CPU part
    stretched to the function's share of a vCPU (below 1,769 MB the same work takes longer:
    at 512 MB about 3.5 times), plus ``waits_ms``, the round trips loopback hides (modelled).
    Assumes a core here does what a Lambda vCPU does; Python uses one core at most."""
    share = min(1.0, memory_mb / LAMBDA_MB_PER_VCPU)
    return own_wall_ms + cpu_ms * (1 / share - 1) + waits_ms


def sqs_billed_requests(payload_bytes: int) -> int:
    """One request per started 64 KiB chunk of payload (an empty payload is one request)."""
    return max(1, math.ceil(payload_bytes / SQS_BILLING_CHUNK_BYTES))


def lambda_gb_seconds(billed_ms_per_invocation: float, memory_mb: int) -> float:
    """GB-seconds of one invocation; Lambda bills duration rounded up to the millisecond."""
    return math.ceil(billed_ms_per_invocation) / 1000.0 * memory_mb / 1024.0


@dataclass(frozen=True)
class LambdaUse:
    """One function's share of an update."""

    invocations_per_update: float
    ms_per_invocation: float
    memory_mb: int

    def usd_per_update(self) -> float:
        duration = lambda_gb_seconds(self.ms_per_invocation, self.memory_mb)
        per_invocation = LAMBDA_REQUEST_USD + duration * LAMBDA_ARM64_GB_SECOND_USD
        return self.invocations_per_update * per_invocation


@dataclass(frozen=True)
class UpdateCost:
    """Everything billable that one update causes, averaged over the measured run."""

    functions: tuple[LambdaUse, ...]
    sqs_requests: float
    """Billed SQS requests (64 KiB chunks counted) per update."""
    dynamodb_read_units: float
    dynamodb_write_units: float
    secrets_manager_calls: float = 0.0

    def breakdown_per_million(self) -> dict[str, float]:
        million = 1_000_000
        return {
            "lambda": million * sum(f.usd_per_update() for f in self.functions),
            "sqs": million * self.sqs_requests * SQS_FIFO_REQUEST_USD,
            "dynamodb": million
            * (
                self.dynamodb_read_units * DYNAMODB_READ_REQUEST_UNIT_USD
                + self.dynamodb_write_units * DYNAMODB_WRITE_REQUEST_UNIT_USD
            ),
            "secrets_manager": million * self.secrets_manager_calls * SECRETS_MANAGER_API_CALL_USD,
        }

    def usd_per_million(self) -> float:
        return sum(self.breakdown_per_million().values())


FLOOR_TARGET_RATIO = 2.5
"""Issue 16: a million updates may cost at most this many times the architecture's floor."""


def floor_cost(sqs_requests: float, invocations_per_update: tuple[float, ...]) -> UpdateCost:
    """The architecture's floor for the same traffic: the SQS FIFO requests and the Lambda
    requests it cannot do without (as counted in the run), with no state (no DynamoDB) and no
    billed duration at all. Nothing real reaches it; it is the yardstick the target is set in."""
    return UpdateCost(
        functions=tuple(LambdaUse(n, 0.0, 128) for n in invocations_per_update),
        sqs_requests=sqs_requests,
        dynamodb_read_units=0.0,
        dynamodb_write_units=0.0,
    )
