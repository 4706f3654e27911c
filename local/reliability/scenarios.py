"""The fault-injection scenarios. Each is bounded (the harness's deadline), cleans up its faults,
and ends with the one checker over the people it involved."""

from __future__ import annotations

import time
from collections.abc import Callable

from topicdesk.contract import Output

from local.reliability import abuse, widget
from local.reliability.aws_faults import THROTTLED
from local.reliability.busy_inbox import busy_inbox
from local.reliability.harness import Harness, Outcome, Person, Row, scenario
from local.reliability.inbox import inbox_nudges

Scenario = Callable[[Harness], Row]


def _conversation(h: Harness, people: list[Person], messages: int, answers: int) -> None:
    for person in people:
        h.write(person, messages)
    h.wait_quiet()
    for person in people:
        h.answer(person, answers)
    h.wait_quiet()


@scenario("baseline (no faults)")
def baseline(h: Harness) -> Outcome:
    people = h.new_people(8, "Base")
    _conversation(h, people, 4, 2)
    return Outcome(people)


@scenario("Telegram 5xx on every method")
def telegram_5xx(h: Harness) -> Outcome:
    people = h.new_people(6, "Fivexx")
    for method, status, times in (
        ("createForumTopic", 502, 2),
        ("sendMessage", 500, 3),
        ("copyMessage", 500, 4),
        ("copyMessages", 502, 3),
        ("setMessageReaction", 500, 2),
    ):
        h.client.set_fault(method, status=status, times=times)
    _conversation(h, people, 3, 2)
    h.client.clear_faults()
    return Outcome(people)


@scenario("Telegram timeouts (no effect)")
def telegram_timeouts(h: Harness) -> Outcome:
    people = h.new_people(3, "Slow")
    # Past the Bot client's 10 s read timeout, then an error: Telegram did not act.
    h.client.set_fault("copyMessages", hang=11, status=502, times=1)
    h.client.set_fault("copyMessage", hang=11, status=502, times=1)
    _conversation(h, people, 2, 1)
    h.client.clear_faults()
    return Outcome(people, "a timeout after Telegram acted: the next scenario")


@scenario("Telegram timeouts (Telegram acted)")
def telegram_timeouts_with_effect(h: Harness) -> Outcome:
    """The honest counterpart: Telegram did act, but the answer never came. A bot cannot ask
    Telegram whether it did, so the retry sends it again: at-least-once, by design. The
    emulator logs the call whose answer was dropped, so the copy counts as in doubt."""
    people = h.new_people(3, "Late")
    for person in people:
        h.write(person)
    h.wait_quiet()
    h.client.set_fault("copyMessage", hang=11, times=1)  # then it runs: the copy is made
    for person in people:
        h.write(person)
    h.wait_quiet()
    h.client.clear_faults()
    return Outcome(people, "expected: 1 in-doubt copy (the call log shows its answer dropped)")


@scenario("429 storm (Telegram stricter)")
def flood_storm(h: Harness) -> Outcome:
    limits = h.client.limits()
    # Telegram gets stricter than our limiter believes: every instance meets 429s.
    h.client.set_limits(group_per_minute=1)
    people = h.new_people(6, "Storm")
    _conversation(h, people, 3, 3)
    stats = h.client.stats()
    h.client.set_limits(group_per_minute=int(limits["group_per_minute"]))
    violations = len(h.client.violations())
    return Outcome(people, f"429s={stats.get('rejected_429', 0)} violations={violations}")


@scenario("deleted topic, closed topic, blocked bot")
def topics_and_blocks(h: Harness) -> Outcome:
    deleted, closed, blocker = h.new_people(3, "Topic")
    _conversation(h, [deleted, closed, blocker], 1, 1)
    h.client.delete_topic(h.group, h.topic_of(deleted))
    h.client.close_topic(h.group, h.topic_of(closed), h.operator)
    h.client.block_bot(blocker.user_id)
    h.wait_quiet()
    h.write(deleted, 2)
    h.write(closed, 2)
    h.wait_quiet()
    h.answer(deleted)
    h.answer(closed)
    h.answer(blocker, expect=False)
    h.wait_quiet()
    return Outcome([deleted, closed, blocker])


@scenario("duplicates within and after 5 min")
def duplicates(h: Harness) -> Outcome:
    people = h.new_people(4, "Dup")

    def write_all() -> None:
        for person in people:
            h.write(person, 3)

    updates = h.held_back(write_all)
    # Delivered twice within SQS's 5-minute dedup window (a lost 200 makes Telegram resend).
    h.release(updates)
    h.release(updates[:6])
    h.wait_quiet()
    # And again as Telegram may send them hours later: SQS's dedup window is over (new dedup
    # ids); the idempotency records are not.
    for update in updates[:6]:
        chat = str(update["message"]["chat"]["id"])
        h.enqueue(update, group=chat, dedup=f"late-{update['update_id']}")
    h.updates_in += 12
    h.wait_quiet()
    return Outcome(people, "6 resent at once, 6 resent past the dedup window")


@scenario("delivery out of order across chats")
def out_of_order(h: Harness) -> Outcome:
    h.client.set_fault(reorder_across_chats=True)
    people = h.new_people(8, "Order")
    _conversation(h, people, 3, 1)
    h.client.clear_faults()
    return Outcome(people)


@scenario("backlog: 1,500 updates, 200 chats")
def backlog(h: Harness) -> Outcome:
    """A 30-minute outage: 1,500 updates from 200 chats waiting at Telegram, then all at once."""
    token = h.stage.telegram.token
    info = h.client.bot_api("getWebhookInfo", token=token)
    secret = h.stage.description["webhook_secret"]
    h.client.bot_api("deleteWebhook", token=token)
    people = h.new_people(200, "Back")
    for index in range(1500):
        h.write(people[index % 200])
    h.client.bot_api(
        "setWebhook", token=token, url=info["url"], secret_token=secret, max_connections=40
    )
    h.wait_quiet(timeout=600)
    return Outcome(people)


@scenario("DynamoDB throttling + topic race")
def dynamodb_throttling(h: Harness) -> Outcome:
    people = h.new_people(6, "Throttle")
    rule = h.dynamodb.fail(0.25, answer=THROTTLED)
    for person in people:
        h.write(person, 3)
    h.wait_quiet()
    h.dynamodb.clear()
    # A conditional-check race: a person's first two updates put in two message groups, so two
    # consumers try to create their topic at the same moment. One topic must come of it.
    racer = h.new_people(1, "Race")[0]
    updates = h.held_back(lambda: h.write(racer, 2))
    for index, update in enumerate(updates):
        h.enqueue(update, group=f"race-{index}", dedup=f"race-{update['update_id']}")
    h.wait_quiet()
    topics = [t for t in h.client.topics(h.group) if t["name"].startswith(f"{racer.name} ")]
    # The two groups may finish in either order: each message is checked on its own.
    halves = [Person(racer.user_id, racer.name, sent=[mark]) for mark in racer.sent]
    return Outcome([*people, *halves], f"racer topics={len(topics)} throttled={rule.injected}")


@scenario("SQS send failures in the webhook")
def sqs_send_failures(h: Harness) -> Outcome:
    people = h.new_people(6, "Sqs")
    rule = h.sqs.fail(0.5, "SendMessage")
    for person in people:
        h.write(person, 3)
    h.wait_quiet()
    h.sqs.clear()
    return Outcome(people, f"webhook 500s={rule.injected}")


@scenario("consumer crash mid-batch")
def consumer_crash(h: Harness) -> Outcome:
    people = h.new_people(6, "Crash")
    h.client.set_fault("copyMessages", latency=2.0)
    h.client.set_fault("copyMessage", latency=2.0)
    consumer = h.stage.runtime.pools[h.stage.outputs[Output.CONSUMER_FUNCTION_NAME]]
    for person in people:
        h.write(person, 3)
    killed = 0
    deadline = time.monotonic() + 30
    while killed == 0 and time.monotonic() < deadline:
        time.sleep(1.0)
        killed = consumer.crash()
    h.client.clear_faults()
    h.wait_quiet(timeout=420)  # the killed batches come back after the 180 s visibility timeout
    return Outcome(people, f"killed {killed} consumer environment(s)")


@scenario("poison update -> DLQ -> replay")
def poison_and_replay(h: Harness) -> Outcome:
    dead = len(h.dead_letters())
    person = h.new_people(1, "Poison")[0]
    h.write(person)
    h.wait_quiet()
    h.client.set_fault(
        "copyMessage", status=400, description="Bad Request: CHAT_WRITE_FORBIDDEN", times=50
    )
    h.write(person)
    h.wait_until("the dead letter", lambda: len(h.dead_letters()) > dead)
    h.wait_quiet()
    h.client.clear_faults()
    archived = [h.archive_id(item) for item in h.dead_letters()]
    lost_before_replay = h.check([person])[0].lost
    for archive_id in archived:
        result = h.ops("dlq", "replay", archive_id)
        if result.returncode == 0:
            h.replayed += 1
    h.wait_quiet()
    return Outcome([person], f"missing before replay={lost_before_replay}")


SCENARIOS: dict[str, Scenario] = {
    "baseline": baseline,
    "telegram-5xx": telegram_5xx,
    "telegram-timeouts": telegram_timeouts,
    "telegram-timeouts-with-effect": telegram_timeouts_with_effect,
    "flood-storm": flood_storm,
    "topics-and-blocks": topics_and_blocks,
    "duplicates": duplicates,
    "out-of-order": out_of_order,
    "dynamodb-throttling": dynamodb_throttling,
    "sqs-send-failures": sqs_send_failures,
    "consumer-crash": consumer_crash,
    "poison-and-replay": poison_and_replay,
    **abuse.SCENARIOS,
    **widget.SCENARIOS,
    "backlog": backlog,
    "busy-inbox": busy_inbox,
    "inbox-nudges": inbox_nudges,
    **abuse.LAST,
}
