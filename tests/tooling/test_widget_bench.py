"""``make bench``'s widget path: its events and API Gateway's share of the cost (no timing)."""

from __future__ import annotations

import json

import pytest

from bench import widget_bench


def test_each_visitor_connects_says_hello_sends_then_leaves() -> None:
    events = widget_bench.edge_events(visitors=2, messages=3)
    routes = [e["requestContext"]["routeKey"] for e in events]
    assert routes == ["$connect", "hello", "send", "send", "send"] * 2
    assert events[0]["queryStringParameters"] == {"key": widget_bench.KEY}
    assert events[0]["headers"] == {"Origin": widget_bench.ORIGIN}
    sends = [json.loads(e["body"]) for e in events if e["requestContext"]["routeKey"] == "send"]
    assert len({(e["requestContext"]["connectionId"]) for e in events}) == 2
    assert [s["id"] for s in sends] == ["m0", "m1", "m2"] * 2
    leaving = widget_bench.disconnect_events(2)
    assert [e["requestContext"]["eventType"] for e in leaving] == ["DISCONNECT"] * 2


def test_api_gateway_is_priced_per_frame_and_connection_minute() -> None:
    # 3 frames ($1.00/M each) and 3 connection-minutes ($0.25/M each) per message.
    assert widget_bench.api_gateway_usd_per_million(3.0) == pytest.approx(3.0 + 0.75)
    assert widget_bench.api_gateway_usd_per_million(0.0) == pytest.approx(0.75)
