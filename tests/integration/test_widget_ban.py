"""/ban at the widget's edge end to end: the real handler reads the relay's session item in
the data table and answers a banned visitor's send with a ``banned`` error frame."""

from __future__ import annotations

import aiohttp
from topicdesk.adapters.dynamodb.sessions import session_key
from topicdesk.domain.relay.visitors import visitor_user_id

from devkit.moto import MotoServer
from tests.integration.test_widget_edge import (  # noqa: F401  (moto, edge: the fixtures)
    Edge,
    ask,
    client_resource,
    connect,
    edge,
    hello,
    moto,
    run,
)

DATA_TABLE = "widget-it-data"  # as the edge fixture's create_tables names it


def test_a_banned_visitor_gets_an_error_frame_and_nothing_is_queued(
    moto: MotoServer,  # noqa: F811
    edge: Edge,  # noqa: F811
) -> None:
    data = client_resource(moto.endpoint).Table(DATA_TABLE)

    async def scenario(http: aiohttp.ClientSession, edge: Edge) -> None:
        socket = await connect(http, edge)
        session_id = (await hello(socket))["session"].split(".")[0]
        ok = await ask(socket, {"action": "send", "id": "ok-1", "text": "hi"})
        assert ok == {"type": "ack", "id": "ok-1"}
        # What /ban leaves in the relay's session item (the consumer writes the rest of it).
        user_id = visitor_user_id(session_id)
        item = {**session_key(user_id), "user_id": user_id, "operator_chat_id": -1001}
        data.put_item(Item={**item, "banned": True})
        refused = await ask(socket, {"action": "send", "id": "no-1", "text": "still here?"})
        assert refused["type"] == "error" and refused["code"] == "banned"
        assert refused["id"] == "no-1"
        await socket.close()

    run(edge, scenario)
    bodies = [record["Body"] for record in edge.records()]
    assert sum('"ok-1"' in body for body in bodies) == 1
    assert not any('"no-1"' in body for body in bodies)
