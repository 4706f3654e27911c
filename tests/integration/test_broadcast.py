"""Broadcast from the operators' group through the queue: confirmation, skips, final count."""

from __future__ import annotations

from tests.support.pipeline import Pipeline


def test_broadcast_reaches_every_active_person_and_reports(pipeline: Pipeline) -> None:
    client, group, op = pipeline.client, pipeline.operator_chat_id, pipeline.operator_id
    people = {
        name: int(client.create_user(name, username=name.lower())["user_id"])
        for name in ("Anna", "Ben", "Carla")
    }
    for user in people.values():
        client.send_as_user(user, "hello")
    pipeline.run()
    client.block_bot(people["Ben"])
    pipeline.run()

    client.send_as_operator(group, None, op, "/broadcast Maintenance tonight at 22:00")
    pipeline.run()
    question = client.transcript(group)[-1]
    assert "Send this to 3 people" in question["text"]
    # Nothing is sent before the confirmation.
    assert all("Maintenance" not in t for u in people.values() for t in pipeline.private_texts(u))

    client.send_as_operator(group, None, op, "/confirm", reply_to_message_id=question["message_id"])
    pipeline.run()
    for name in ("Anna", "Carla"):
        assert pipeline.private_texts(people[name])[-1] == "Maintenance tonight at 22:00"
    assert "Maintenance tonight at 22:00" not in pipeline.private_texts(people["Ben"])
    notes = [m.get("text", "") for m in client.transcript(group)]
    assert any(n.startswith("📣 Broadcast started: 3 people") for n in notes)
    assert any("2 delivered, 1 skipped" in n for n in notes)
    # A redelivered /confirm does not send it again.
    sent_before = len(client.calls("sendMessage"))
    client.send_as_operator(group, None, op, "/confirm", reply_to_message_id=question["message_id"])
    pipeline.run()
    assert len(client.calls("sendMessage")) == sent_before
