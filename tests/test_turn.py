"""The transcript of one turn (the citizen's message first, with its intent, whatever the turn writes), and
the turn runner: the dialogue it is given, network reads outside the transaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot.db import transaction, upgrade, utcnow
from bot.messages import Inbound, Reply
from bot.models import Message
from bot.services import Services
from bot.transcript import enqueue, record_inbound
from bot.turn import prepare, run_turn, take_turn
from flows.turn import Needs, Network, NetworkNeeded, Turn
from nlu.client import Parse


def _transcript(services: Services) -> list[tuple[str, str | None, str | None]]:
    with services.sessions() as session:
        rows = session.execute(select(Message.direction, Message.text, Message.intent).order_by(Message.id))
        return [(direction, said, intent) for direction, said, intent in rows]


def test_the_citizen_message_goes_in_with_the_replies_and_its_intent(services: Services) -> None:
    upgrade(services.engine)
    with transaction(services.sessions) as session:
        turn = record_inbound(session, Inbound("zalo", "u1", "text", text="lệ phí khai sinh"), utcnow())
        turn.note_intent("ask_fee")
        turn.finish([Reply.say("Dạ, miễn lệ phí ạ.")])
    assert _transcript(services) == [
        ("in", "lệ phí khai sinh", "ask_fee"), ("out", "Dạ, miễn lệ phí ạ.", None)]


def test_a_message_written_earlier_in_the_turn_comes_after_the_citizen(services: Services) -> None:
    upgrade(services.engine)
    with transaction(services.sessions) as session:
        turn = record_inbound(session, Inbound("zalo", "u1", "text", text="đã bổ sung giấy tờ"), utcnow())
        turn.write_inbound()  # the turn writes something else first: the citizen's message before it
        enqueue(session, turn.conversation, Reply.say("Hồ sơ đã chuyển lại bước tiếp nhận."),
                purpose="notification")
        turn.note_intent("supplement_dossier")  # after the row was written: an UPDATE
        turn.finish([Reply.say("Em đã nhận giấy tờ.")])
    assert _transcript(services) == [
        ("in", "đã bổ sung giấy tờ", "supplement_dossier"),
        ("out", "Hồ sơ đã chuyển lại bước tiếp nhận.", None),
        ("out", "Em đã nhận giấy tờ.", None),
    ]


def test_a_turn_without_replies_still_keeps_the_citizen_message(services: Services) -> None:
    upgrade(services.engine)
    with transaction(services.sessions) as session:
        record_inbound(session, Inbound("zalo", "u1", "text", text="alo"), utcnow()).finish([])
    assert _transcript(services) == [("in", "alo", None)]


def test_a_turns_inserts_are_compiled_once_not_per_turn(services: Services) -> None:
    """Literal multi-row VALUES has no cache key in SQLAlchemy: it was compiled again on every turn."""
    from sqlalchemy import event
    from sqlalchemy.engine.interfaces import CacheStats

    upgrade(services.engine)
    inserts: list[CacheStats] = []

    @event.listens_for(services.engine, "before_cursor_execute")
    def seen(_conn, _cursor, sql, _params, context, _many):  # type: ignore[no-untyped-def]
        if sql.startswith("INSERT INTO") and context is not None:
            inserts.append(context.cache_hit)

    for n in range(3):
        with transaction(services.sessions) as session:
            turn = record_inbound(session, Inbound("zalo", "u1", "text", text=f"câu {n}"), utcnow())
            turn.finish([Reply.say("Dạ."), Reply.say("Anh/chị cần gì thêm ạ?")])
    event.remove(services.engine, "before_cursor_execute", seen)
    assert len(inserts) >= 6 and inserts[-2:] == [CacheStats.CACHE_HIT] * 2
    assert len(_transcript(services)) == 9


class _OneIntentNLU:
    """The NLU for runner tests: every message is a greeting; counts its parses."""

    def __init__(self) -> None:
        self.calls = 0

    def parse(self, message: str) -> Parse:
        self.calls += 1
        return Parse(text=message, intent="greet", confidence=0.99)


class _AsksLate:
    """A dialogue that says beforehand it needs nothing, then asks the NLU inside the turn anyway."""

    def read_ahead(self, services: Services, state: dict, inbound: Inbound, now: datetime) -> Needs:
        return Needs()

    def handle_turn(self, turn: Turn) -> list[Reply]:
        return [Reply.say(f"Dạ, em hiểu là {turn.parse().intent}.")]


class _ReadsAhead(_AsksLate):
    def read_ahead(self, services: Services, state: dict, inbound: Inbound, now: datetime) -> Needs:
        return Needs(parse=True)


def test_the_runner_takes_its_dialogue_and_parses_outside_the_transaction(services: Services) -> None:
    upgrade(services.engine)
    nlu = _OneIntentNLU()
    services.nlu = nlu  # type: ignore[assignment]
    reruns = Network.reruns
    hello = Inbound("zalo", "u1", "text", text="chào em")
    replies = take_turn(services, hello, utcnow(), dialogue=_ReadsAhead())
    assert [r.text for r in replies] == ["Dạ, em hiểu là greet."] and nlu.calls == 1
    assert Network.reruns == reruns
    # asked for inside the transaction: rolled back, fetched outside, run again; still one parse
    replies = take_turn(services, Inbound("zalo", "u1", "text", text="alo"), utcnow(), dialogue=_AsksLate())
    assert [r.text for r in replies] == ["Dạ, em hiểu là greet."] and nlu.calls == 2
    assert Network.reruns == reruns + 1
    assert _transcript(services) == [("in", "chào em", None), ("out", "Dạ, em hiểu là greet.", None),
                                     ("in", "alo", None), ("out", "Dạ, em hiểu là greet.", None)]


def test_inside_the_transaction_the_network_is_closed(services: Services) -> None:
    upgrade(services.engine)
    services.nlu = _OneIntentNLU()  # type: ignore[assignment]
    inbound = Inbound("zalo", "u1", "text", text="alo")
    network = prepare(services, inbound, utcnow(), dialogue=_AsksLate())
    with pytest.raises(NetworkNeeded) as raised, transaction(services.sessions) as session:
        run_turn(session, services, inbound, utcnow(), network=network, dialogue=_AsksLate())
    assert raised.value.parse and _transcript(services) == []  # rolled back
