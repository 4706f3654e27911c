"""Widget edge Lambda (API Gateway WebSocket API): $connect, hello, send, $default,
$disconnect. No Telegram library imported."""

from __future__ import annotations

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.widget import widget_edge_runtime

runtime, handler = lambda_entry(widget_edge_runtime, lambda edge, event, _: edge.handle(event))
