"""The auto-reply rules as pure functions: triggers, keys, authors, threads not open, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from retail_pipeline.domain.auto_replies import (
    Conversation,
    Message,
    OrderFacts,
    QuietHours,
    ReplyPolicy,
    answers_customer,
    asks_return_or_refund,
    asks_where_is_order,
    decide,
    unanswered,
)

NOON = datetime(2025, 3, 12, 17, 0, tzinfo=UTC)  # 13:00 in Toronto (EDT)
NIGHT = datetime(2025, 3, 13, 3, 30, tzinfo=UTC)  # 23:30 in Toronto on the 12th
EARLY = datetime(2025, 3, 13, 10, 30, tzinfo=UTC)  # 06:30 in Toronto on the 13th
QUIET = QuietHours(time(21), time(8), "America/Toronto")
POLICY = ReplyPolicy(quiet_hours=QUIET, signature="RP Team")
SHIPPED = OrderFacts(
    "ORD-1-A", "shipped", "canada_post", "7023210039414604", "shipped", NOON - timedelta(days=1)
)


def msg(i: int, body: str, author: str = "customer", key: str | None = None) -> Message:
    direction = "inbound" if author in ("customer", "operator") else "outbound"
    return Message(i, direction, author, body, NOON - timedelta(minutes=60 - i), key)


def conv(*messages: Message, order: OrderFacts | None = None, status: str = "open") -> Conversation:
    return Conversation("bestbuy", status, messages, "Olivia Tremblay", "Order ORD-1-A", order, "Best Buy")


def test_a_new_question_gets_the_acknowledgement_once():
    reply = decide(conv(msg(1, "Is the blue one in stock?")), now=NOON, policy=POLICY)
    assert reply is not None and reply.key == "ack:new_thread" and reply.in_reply_to == 1
    assert reply.body.startswith("Hello Olivia,") and "RP Team" in reply.body
    assert not reply.answers_customer  # a holding reply: the thread still waits for a person

    # a follow-up after our ack: the ack's key is used, nothing else applies → nothing
    later = conv(
        msg(1, "Is the blue one in stock?"), msg(2, reply.body, "system", reply.key), msg(3, "Hello?")
    )
    assert decide(later, now=NOON, policy=POLICY) is None


def test_where_is_my_order_with_a_pin_tells_the_tracking():
    reply = decide(
        conv(msg(1, "Hi, where is my order? It's been a week"), order=SHIPPED), now=NOON, policy=POLICY
    )
    assert reply.key == "tracking:7023210039414604" and reply.answers_customer
    assert "was shipped on March 11 with Canada Post" in reply.body
    assert "searchFor=7023210039414604" in reply.body

    delivered = OrderFacts("ORD-1-A", "delivered", "ups", "1Z999", "delivered")
    reply = decide(conv(msg(1, "I have not received it"), order=delivered), now=NOON, policy=POLICY)
    assert "has been delivered with UPS" in reply.body and "ups.com/track?tracknum=1Z999" in reply.body


def test_where_is_my_order_without_a_pin_falls_back_to_the_ack():
    unshipped = OrderFacts("ORD-1-A", "accepted")
    for order in (None, unshipped):
        reply = decide(conv(msg(1, "where is my order??"), order=order), now=NOON, policy=POLICY)
        assert reply.key == "ack:new_thread"


def test_the_same_pin_is_told_once_and_a_new_pin_again():
    first = decide(conv(msg(1, "tracking please"), order=SHIPPED), now=NOON, policy=POLICY)
    asked_again = conv(
        msg(1, "tracking please"), msg(2, first.body, "system", first.key), msg(3, "Where's my order?"),
        order=SHIPPED,
    )  # fmt: skip
    assert decide(asked_again, now=NOON, policy=POLICY).key == "ack:new_thread"  # ack still unused
    with_ack = conv(
        *asked_again.messages, msg(4, "ack", "system", "ack:new_thread"), msg(5, "tracking?"), order=SHIPPED
    )
    assert decide(with_ack, now=NOON, policy=POLICY) is None
    reshipped = OrderFacts("ORD-1-A", "shipped", "canada_post", "NEWPIN123", "shipped")
    assert (
        decide(conv(*with_ack.messages, order=reshipped), now=NOON, policy=POLICY).key == "tracking:NEWPIN123"
    )


def test_return_or_refund_gets_the_policy_and_wins_over_tracking():
    reply = decide(
        conv(msg(1, "Where is my order? I want a refund."), order=SHIPPED), now=NOON, policy=POLICY
    )
    assert (
        reply.key == "returns:policy" and "within 30 days" in reply.body and "for order ORD-1-A" in reply.body
    )
    assert "Best Buy account" in reply.body
    no_order = decide(conv(msg(1, "Can I return this?")), now=NOON, policy=ReplyPolicy(return_days=14))
    assert "within 14 days" in no_order.body and "for order" not in no_order.body


@pytest.mark.parametrize(
    "text, where, refund",
    [
        ("Where is my order?", True, False),
        ("where's my package", True, False),
        ("Has it shipped yet?", True, False),
        ("Can you send me the tracking number", True, False),
        ("Où est ma commande?", True, False),
        ("Je n'ai pas reçu mon colis", True, False),
        ("I would like to return it", False, True),
        ("Please refund me", False, True),
        ("Je veux un remboursement", False, True),
        ("Is this compatible with a 2019 model?", False, False),
        ("Does it turn on with the returnable battery?", False, False),
    ],
)
def test_intents(text, where, refund):
    assert asks_where_is_order(text) is where
    assert asks_return_or_refund(text) is refund


@pytest.mark.parametrize("author", ["shop", "operator", "system"])
def test_never_replies_to_our_own_or_the_marketplaces_message(author):
    assert (
        decide(conv(msg(1, "Where is my order?"), msg(2, "It shipped", author)), now=NOON, policy=POLICY)
        is None
    )
    assert decide(conv(msg(1, "Your order ships today", author)), now=NOON, policy=POLICY) is None


def test_a_pending_reply_counts_as_ours():
    pending = msg(2, "Thanks", "system", None)
    assert decide(conv(msg(1, "Hi?"), pending), now=NOON, policy=POLICY) is None


@pytest.mark.parametrize("status", ["pending", "snoozed", "resolved"])
def test_never_replies_to_a_conversation_that_is_not_open(status):
    assert (
        decide(conv(msg(1, "Where is my order?"), order=SHIPPED, status=status), now=NOON, policy=POLICY)
        is None
    )


def test_one_reply_per_unanswered_batch():
    batch = conv(msg(1, "Hello"), msg(2, "Where is my order?"), msg(3, "Anyone?"), order=SHIPPED)
    assert [m.id for m in unanswered(batch.messages)] == [1, 2, 3]
    reply = decide(batch, now=NOON, policy=POLICY)
    assert reply.key.startswith("tracking:") and reply.in_reply_to == 3
    answered = conv(*batch.messages, msg(4, reply.body, "system", reply.key), order=SHIPPED)
    assert unanswered(answered.messages) == () and decide(answered, now=NOON, policy=POLICY) is None


def test_quiet_hours_send_only_the_notice_once_per_night():
    question = conv(msg(1, "Where is my order?"), order=SHIPPED)
    reply = decide(question, now=NIGHT, policy=POLICY)
    assert reply.key == "out_of_hours:2025-03-12" and "away until 08:00 (America/Toronto)" in reply.body
    assert not reply.answers_customer
    # 06:30 next morning is the same night (the window began on the 12th)
    same_night = conv(
        *question.messages, msg(2, reply.body, "system", reply.key), msg(3, "??"), order=SHIPPED
    )
    assert decide(same_night, now=EARLY, policy=POLICY) is None
    # the next night a new notice is allowed
    assert decide(same_night, now=NIGHT + timedelta(days=1), policy=POLICY).key == "out_of_hours:2025-03-13"
    # in the morning the notice has answered its message: no second auto-reply for it
    answered = conv(*question.messages, msg(2, reply.body, "system", reply.key), order=SHIPPED)
    assert decide(answered, now=NOON + timedelta(days=1), policy=POLICY) is None


def test_quiet_hours_hold_mode_waits_for_the_morning():
    hold = ReplyPolicy(quiet_hours=QuietHours(time(21), time(8), "America/Toronto", "hold"))
    question = conv(msg(1, "Where is my order?"), order=SHIPPED)
    assert decide(question, now=NIGHT, policy=hold) is None
    assert decide(question, now=NOON + timedelta(days=1), policy=hold).key.startswith("tracking:")


@pytest.mark.parametrize(
    "start, end, local, quiet",
    [
        (time(21), time(8), datetime(2025, 1, 1, 20, 59), False),
        (time(21), time(8), datetime(2025, 1, 1, 21, 0), True),
        (time(21), time(8), datetime(2025, 1, 2, 7, 59), True),
        (time(21), time(8), datetime(2025, 1, 2, 8, 0), False),
        (time(12), time(13), datetime(2025, 1, 2, 12, 30), True),
        (time(12), time(13), datetime(2025, 1, 2, 13, 30), False),
        (time(9), time(9), datetime(2025, 1, 2, 9, 0), False),  # start == end: no quiet hours
    ],
)
def test_quiet_window(start, end, local, quiet):
    from zoneinfo import ZoneInfo

    hours = QuietHours(start, end, "Pacific/Auckland")
    assert (hours.window_start(local.replace(tzinfo=ZoneInfo("Pacific/Auckland"))) is not None) is quiet


def test_disabled_rules_and_naive_now():
    policy = ReplyPolicy(enabled_rules=frozenset({"tracking"}))
    assert decide(conv(msg(1, "Hello")), now=NOON, policy=policy) is None
    with pytest.raises(ValueError):
        decide(conv(msg(1, "Hello")), now=NOON.replace(tzinfo=None), policy=policy)


def test_answers_customer():
    assert answers_customer(None) and answers_customer("tracking:1") and answers_customer("returns:policy")
    assert not answers_customer("ack:new_thread") and not answers_customer("out_of_hours:2025-01-01")
