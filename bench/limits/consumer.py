"""The consumer Lambda as ``make bench-limits`` runs it: one handler, two limiters.

``BENCH_LIMITER`` picks the flood limiter; everything else is the product's consumer:

* ``topicdesk``: the product handler as deployed (``topicdesk.handlers.consumer.handler``):
  the shared GCRA limiter in DynamoDB (``LIMITS_TABLE``).
* ``baseline``: the same ``ConsumerRuntime`` with Topicdesk's limiter switched off
  (``NoThrottle``) and python-telegram-bot's ``AIORateLimiter`` in the Bot instead, at
  ``30/s x BENCH_SCALE`` overall and ``20/min x BENCH_SCALE`` per group, per process (that is
  how it works: each instance spends the whole budget). ``max_retries=0``: a 429 surfaces at
  once and the consumer defers the record by ``retry_after`` exactly as it does for Topicdesk
  (retrying in-process would sleep up to a minute inside a 30-second invocation). The
  per-person pace (``LIMIT_PERSON_*``) stays on in both, set out of the way by the benchmark.

A ``{"bench": "warm"}`` event builds the runtime (cold start, getMe) and answers the pid, so
the benchmark can start every instance before it starts the clock.
"""

from __future__ import annotations

import faulthandler
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot
from topicdesk.adapters.powertools import lambda_entry
from topicdesk.adapters.telegram import NoThrottle
from topicdesk.composition.consumer import consumer_runtime
from topicdesk.handlers import consumer as product
from topicdesk.runtime.consumer import ConsumerRuntime
from topicdesk.runtime.ptb import build_bot

SWITCH = "BENCH_LIMITER"
SCALE = "BENCH_SCALE"
TOPICDESK = "topicdesk"
BASELINE = "baseline"
WARM_EVENT = {"bench": "warm"}
STACKS_AFTER_SECONDS = 27.0


def limiter_name() -> str:
    name = os.environ.get(SWITCH, TOPICDESK)
    if name not in (TOPICDESK, BASELINE):
        raise ValueError(f"{SWITCH}: {name!r} is neither {TOPICDESK!r} nor {BASELINE!r}")
    return name


def aio_rate_limiter(scale: float) -> AIORateLimiter:
    """PTB's limiter at Telegram's documented limits times ``scale``."""
    return AIORateLimiter(
        overall_max_rate=30 * scale,
        overall_time_period=1,
        group_max_rate=20 * scale,
        group_time_period=60,
        max_retries=0,
    )


def build_rate_limited_bot(token: str, api_url: str) -> Bot:
    """``topicdesk.runtime.ptb.build_bot`` with an ``AIORateLimiter`` (an ``ExtBot``)."""
    scale = float(os.environ.get(SCALE, "1"))
    return build_bot(token, api_url, ExtBot, rate_limiter=aio_rate_limiter(scale))


# The same wiring with PTB's own rate limiter in the Bot instead of the shared limiter.
baseline_runtime, baseline_handler = lambda_entry(
    lambda metrics: consumer_runtime(
        metrics, bot_factory=build_rate_limited_bot, throttle=NoThrottle()
    ),
    ConsumerRuntime.handle,
)


def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    name = limiter_name()
    if event == WARM_EVENT:
        if name == TOPICDESK:
            product.runtime()
        else:
            baseline_runtime()
        return {"pid": os.getpid()}
    # An invocation still running close to the function's timeout (when the local runtime
    # kills it, leaving no trace) writes every thread's stack to the function's log.
    faulthandler.dump_traceback_later(STACKS_AFTER_SECONDS, exit=False)
    try:
        if name == TOPICDESK:
            return product.handler(event, context)
        return baseline_handler(event, context)
    finally:
        faulthandler.cancel_dump_traceback_later()
