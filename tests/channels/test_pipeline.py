"""Worker and dispatcher: turns in order, outbox sent with retries, echoes, takeover, crash safety."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.db import transaction, utcnow
from bot.messages import Reply
from bot.models import Conversation, InboundEvent, Message, OutboxMessage
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import ingest
from bot.services import Services
from bot.templates import text
from bot.transcript import conversation_for, enqueue
from connectors import build_connectors
from connectors.base import Connector, WebhookRequest, http_session

from .conftest import CITIZEN, ScriptedDialogue, fb_batch, fb_headers, fb_message, zalo_body, zalo_headers
from .standins import GraphStandIn, ZaloStandIn


@pytest.fixture
def dialogue() -> ScriptedDialogue:
    """These tests run a scripted dialogue (injected into their services; see conftest.ScriptedDialogue)."""
    return ScriptedDialogue()


@pytest.fixture
def connectors(ch_services: Services) -> dict[str, Connector]:
    return build_connectors(ch_services)


def _zalo(services: Services, connectors: dict[str, Connector], text: str, msg_id: str,
          user: str = CITIZEN, event: str = "user_send_text") -> None:
    body = zalo_body(event=event, text=text, msg_id=msg_id, user=user)
    ack = ingest(services, connectors["zalo"], WebhookRequest(body, zalo_headers(body)))
    assert ack.status == 200


def _outbox(services: Services) -> list[OutboxMessage]:
    with services.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _conv(services: Services, channel: str, user: str) -> Conversation:
    with services.sessions() as session:
        return session.scalars(select(Conversation).where(
            Conversation.channel == channel, Conversation.user_id == user)).one()


def test_a_new_event_counts_as_stored_and_a_redelivery_as_a_duplicate(
        ch_services: Services, connectors: dict[str, Connector], monkeypatch: pytest.MonkeyPatch) -> None:
    """On both databases (on PostgreSQL the cursor's rowcount was -1: every new event counted as a duplicate
    and no webhook woke a worker)."""
    woken: list[bool] = []
    monkeypatch.setattr("bot.pipeline.ingest.EVENTS.notify", lambda: woken.append(True))
    body = zalo_body(text="Cho em hỏi lệ phí", msg_id="count-1")
    request = WebhookRequest(body, zalo_headers(body))
    assert ingest(ch_services, connectors["zalo"], request).stored == 1 and woken == [True]
    assert ingest(ch_services, connectors["zalo"], request).stored == 0 and woken == [True]  # a retry


def test_zalo_message_to_reply_addressing_message_id(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "Xin chào, cho em hỏi thủ tục khai sinh", "zm-1")
    assert worker.drain(ch_services, connectors) == 1
    [item] = _outbox(ch_services)
    assert item.status == "pending" and item.in_reply_to == "zm-1"
    assert dispatcher.drain(ch_services, connectors) == 1
    [sent] = zalo_server.sends()
    assert sent.path == "/v3.0/oa/message/cs" and sent.headers["access_token"] == "access-1"
    assert sent.json["recipient"] == {"message_id": "zm-1"}  # free reply quota
    assert sent.json["message"]["text"] == "Em nhận được: Xin chào, cho em hỏi thủ tục khai sinh"
    buttons = sent.json["message"]["attachment"]["payload"]["buttons"]
    assert buttons[0] == {"title": "Tra cứu hồ sơ", "type": "oa.query.hide", "payload": "#mc:check_status"}
    [item] = _outbox(ch_services)
    assert item.status == "sent" and item.platform_message_id == "zmsg-1"


def test_order_within_conversation_parallel_across(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "một", "a1", user="111")
    _zalo(ch_services, connectors, "hai", "a2", user="111")
    _zalo(ch_services, connectors, "ba", "b1", user="222")
    first = worker.claim_events(ch_services, limit=10)
    # one head per conversation: a2 waits while a1 is being processed
    with ch_services.sessions() as session:
        claimed = {session.get(InboundEvent, c.id).event_id for c in first}  # type: ignore[union-attr]
    assert claimed == {"msg:a1", "msg:b1"}
    assert worker.claim_events(ch_services, limit=10) == []
    for claim in first:
        assert worker.process(ch_services, claim) == "done"
    [second] = worker.claim_events(ch_services, limit=10)
    assert worker.process(ch_services, second) == "done"
    with ch_services.sessions() as session:
        inbound = select(Message.text).where(Message.direction == "in").order_by(Message.id)
        texts = session.scalars(inbound).all()
    assert texts.index("một") < texts.index("hai")


def test_worker_killed_mid_turn_is_redone_once(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "Tôi muốn nộp hồ sơ", "k1")
    [abandoned] = worker.claim_events(ch_services)  # this worker "dies" here
    assert worker.claim_events(ch_services) == []  # lease still valid: nobody else takes it
    later = utcnow() + worker.LEASE + timedelta(seconds=1)
    [retaken] = worker.claim_events(ch_services, now=later)
    assert retaken.id == abandoned.id and retaken.attempts == abandoned.attempts + 1
    assert worker.process(ch_services, retaken) == "done"
    assert worker.process(ch_services, abandoned) == "lost"  # the zombie's late commit is fenced off
    assert len(_outbox(ch_services)) == 1


def test_dispatcher_killed_before_send_sends_exactly_once(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "Hồ sơ của tôi đến đâu rồi", "d1")
    worker.drain(ch_services, connectors)
    [claim] = dispatcher.claim_outbox(ch_services, list(connectors))  # claimed, then the process dies
    assert dispatcher.drain(ch_services, connectors) == 0  # lease held
    later = utcnow() + dispatcher.SEND_LEASE + timedelta(seconds=1)
    [again] = dispatcher.claim_outbox(ch_services, list(connectors), now=later)
    assert again.id == claim.id
    assert dispatcher.send_one(ch_services, connectors, again, http_session()) == "sent"
    assert dispatcher.drain(ch_services, connectors) == 0
    assert len(zalo_server.sends()) == 1


def test_transient_errors_back_off_then_send(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "xin chào", "t1")
    worker.drain(ch_services, connectors)
    zalo_server.fail_next.extend([("http", 503), -32])
    http = http_session()
    [claim] = dispatcher.claim_outbox(ch_services, list(connectors))
    assert dispatcher.send_one(ch_services, connectors, claim, http) == "pending"
    [item] = _outbox(ch_services)
    assert item.next_attempt_at > utcnow() and "http_503" in (item.error or "")
    assert dispatcher.claim_outbox(ch_services, list(connectors)) == []  # not due yet
    [claim] = dispatcher.claim_outbox(ch_services, list(connectors), now=utcnow() + timedelta(seconds=5))
    assert dispatcher.send_one(ch_services, connectors, claim, http) == "pending"  # -32 rate limit
    [claim] = dispatcher.claim_outbox(ch_services, list(connectors), now=utcnow() + timedelta(minutes=5))
    assert dispatcher.send_one(ch_services, connectors, claim, http) == "sent"
    assert len(zalo_server.sends()) == 3 and _outbox(ch_services)[0].attempts == 3


def test_backoff_grows_and_honours_retry_after() -> None:
    delays = [dispatcher.backoff(n).total_seconds() for n in (1, 2, 3, 4)]
    assert delays[0] < delays[2] < delays[3] * 1.01
    assert dispatcher.backoff(1, retry_after=120).total_seconds() >= 120
    assert dispatcher.backoff(50).total_seconds() <= dispatcher.BACKOFF_CAP * 1.25


def test_permanent_error_marks_failed_and_5xx_gives_up(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "xin chào", "p1")
    worker.drain(ch_services, connectors)
    zalo_server.fail_next.append(-201)
    assert dispatcher.drain(ch_services, connectors) == 1
    [item] = _outbox(ch_services)
    assert item.status == "failed" and item.error and "-201" in item.error
    with transaction(ch_services.sessions) as session:
        conv = conversation_for(session, "zalo", CITIZEN)
        enqueue(session, conv, Reply.say("Thông báo"))
    http = http_session()
    for _ in range(dispatcher.MAX_SEND_ATTEMPTS):
        zalo_server.fail_next.append(("http", 502))
        [claim] = dispatcher.claim_outbox(ch_services, list(connectors), now=utcnow() + timedelta(hours=1))
        status = dispatcher.send_one(ch_services, connectors, claim, http)
    assert status == "failed" and _outbox(ch_services)[1].status == "failed"


def test_window_refusal_holds_until_citizen_writes(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "xin chào", "w1")
    worker.drain(ch_services, connectors)
    zalo_server.fail_next.append(-230)
    dispatcher.drain(ch_services, connectors)
    [item] = _outbox(ch_services)
    assert item.status == "held" and "-230" in (item.error or "")
    _zalo(ch_services, connectors, "anh/chị còn đó không", "w2")
    worker.drain(ch_services, connectors)
    assert dispatcher.drain(ch_services, connectors) == 2
    assert [o.status for o in _outbox(ch_services)] == ["sent", "sent"]
    # the held reply went first, and both addressed the newest citizen message
    assert [c.json["recipient"] for c in zalo_server.sends()[-2:]] == [{"message_id": "w2"}] * 2


def test_a_round_releases_only_the_held_messages_of_citizens_who_wrote(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    others = ["9001", "9002"]
    for n, user in enumerate([CITIZEN, *others]):
        _zalo(ch_services, connectors, "xin chào", f"h{n}", user=user)
    worker.drain(ch_services, connectors)
    zalo_server.fail_next.extend([-230] * 3)  # every first reply refused: outside the window
    dispatcher.drain(ch_services, connectors)
    assert [o.status for o in _outbox(ch_services)] == ["held"] * 3

    def held() -> list[str]:
        return sorted(o.user_id for o in _outbox(ch_services) if o.status == "held")

    # one round (one transaction) with two of the three citizens writing again
    _zalo(ch_services, connectors, "tôi hỏi tiếp", "h3", user=others[0])
    _zalo(ch_services, connectors, "còn tôi nữa", "h4", user=others[1])
    assert worker.work_once(ch_services, connectors) == 2
    assert held() == [CITIZEN]
    _zalo(ch_services, connectors, "anh/chị còn đó không", "h5")
    worker.drain(ch_services, connectors)
    assert held() == []


def test_closed_window_is_held_before_sending(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "xin chào", "old1")
    worker.drain(ch_services, connectors)
    dispatcher.drain(ch_services, connectors)
    with transaction(ch_services.sessions) as session:
        conv = conversation_for(session, "zalo", CITIZEN)
        conv.last_inbound_at = utcnow() - timedelta(days=8)
        enqueue(session, conv, Reply.say("Hồ sơ của anh/chị đã có kết quả ạ."), purpose="notification")
    before = len(zalo_server.calls)
    dispatcher.drain(ch_services, connectors)
    assert _outbox(ch_services)[-1].status == "held" and len(zalo_server.calls) == before


def test_own_echo_ignored_staff_echo_pauses_bot(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    _zalo(ch_services, connectors, "xin chào", "e1")
    worker.drain(ch_services, connectors)
    dispatcher.drain(ch_services, connectors)
    _zalo(ch_services, connectors, "Em nhận được: xin chào", "zmsg-1", event="oa_send_text")  # our own send
    worker.drain(ch_services, connectors)
    assert _conv(ch_services, "zalo", CITIZEN).mode == "bot"
    _zalo(ch_services, connectors, "Chào anh, em là cán bộ Trung tâm", "admin-77", event="oa_send_text")
    worker.drain(ch_services, connectors)
    conv = _conv(ch_services, "zalo", CITIZEN)
    assert conv.mode == "paused" and conv.handoff_reason == "staff_on_platform"
    with ch_services.sessions() as session:
        staff = session.scalars(select(Message).where(Message.author == "staff")).one()
    assert staff.text == "Chào anh, em là cán bộ Trung tâm"
    _zalo(ch_services, connectors, "Dạ cảm ơn cán bộ", "e2")
    worker.drain(ch_services, connectors)
    assert len(_outbox(ch_services)) == 1  # the bot stays silent while staff own the chat


def test_echo_arriving_before_send_returns_waits(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "xin chào", "r1")
    worker.drain(ch_services, connectors)
    [send_claim] = dispatcher.claim_outbox(ch_services, list(connectors))  # send in flight
    _zalo(ch_services, connectors, "Em nhận được: xin chào", "zmsg-1", event="oa_send_text")
    [echo] = worker.claim_events(ch_services)
    assert worker.process(ch_services, echo) == "pending"  # looked again later, not taken for staff
    assert dispatcher.send_one(ch_services, connectors, send_claim, http_session()) == "sent"
    [echo] = worker.claim_events(ch_services, now=utcnow() + timedelta(seconds=3))
    assert worker.process(ch_services, echo) == "ignored"
    assert _conv(ch_services, "zalo", CITIZEN).mode == "bot"


def test_facebook_flow_standby_and_inbox_takeover(
        ch_services: Services, connectors: dict[str, Connector], graph_server: GraphStandIn) -> None:
    fb = connectors["facebook"]
    body = fb_batch([fb_message("psid-1", "m_1", text="Cho em hỏi lệ phí")])
    assert ingest(ch_services, fb, WebhookRequest(body, fb_headers(body))).status == 200
    http = http_session()
    worker.work_once(ch_services, connectors, http)
    assert graph_server.actions()[0].json == {"recipient": {"id": "psid-1"}, "sender_action": "typing_on"}
    dispatcher.drain(ch_services, connectors)
    [sent] = graph_server.sends()
    assert sent.json["messaging_type"] == "RESPONSE" and "tag" not in sent.json
    assert sent.json["message"]["quick_replies"][1] == {"content_type": "text", "title": "Gặp cán bộ",
                                                        "payload": "human"}
    assert sent.json["message"]["metadata"] == "motcua"
    own_echo = {"sender": {"id": "page"}, "recipient": {"id": "psid-1"}, "timestamp": 1, "message": {
        "is_echo": True, "app_id": 1517776481860111, "metadata": "motcua", "mid": "m_2", "text": "x"}}
    standby = fb_batch([own_echo])
    ingest(ch_services, fb, WebhookRequest(standby, fb_headers(standby)))
    worker.drain(ch_services, connectors)
    assert _conv(ch_services, "facebook", "psid-1").mode == "bot"
    inbox = {"sender": {"id": "page"}, "recipient": {"id": "psid-1"}, "timestamp": 2, "message": {
        "is_echo": True, "app_id": 263902037430900, "mid": "m_3", "text": "Em là cán bộ, em hỗ trợ ạ"}}
    body = fb_batch([inbox, fb_message("psid-1", "m_4", text="Dạ vâng")])
    ingest(ch_services, fb, WebhookRequest(body, fb_headers(body)))
    while worker.work_once(ch_services, connectors, http):
        pass
    assert _conv(ch_services, "facebook", "psid-1").mode == "paused"
    assert len(_outbox(ch_services)) == 1  # silent after the takeover
    assert len(graph_server.actions()) == 1  # and no typing indicator either


def test_facebook_standby_keeps_bot_silent(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    import json

    body = json.dumps({"object": "page", "entry": [{"id": "p", "time": 1, "standby": [
        fb_message("psid-9", "m_sb1", text="Tôi cần gặp cán bộ")]}]}).encode()
    ingest(ch_services, connectors["facebook"], WebhookRequest(body, fb_headers(body)))
    worker.drain(ch_services, connectors)
    assert _outbox(ch_services) == []
    conv = _conv(ch_services, "facebook", "psid-9")
    assert conv.mode == "paused"
    with ch_services.sessions() as session:
        assert session.scalars(select(Message.text).where(Message.conversation_id == conv.id)).all() == [
            "Tôi cần gặp cán bộ"]


def test_messenger_window_errors_hold_and_staff_tag(
        ch_services: Services, connectors: dict[str, Connector], graph_server: GraphStandIn) -> None:
    fb = connectors["facebook"]
    body = fb_batch([fb_message("psid-2", "m_10", text="xin chào")])
    ingest(ch_services, fb, WebhookRequest(body, fb_headers(body)))
    worker.drain(ch_services, connectors)
    graph_server.fail_next.append((10, 2018278))
    dispatcher.drain(ch_services, connectors)
    assert _outbox(ch_services)[0].status == "held"
    with transaction(ch_services.sessions) as session:
        conv = conversation_for(session, "facebook", "psid-2")
        conv.last_inbound_at = utcnow() - timedelta(days=3)
        enqueue(session, conv, Reply(kind="text", text="Cán bộ trả lời: hồ sơ đã xong", author="staff"),
                purpose="staff")
        enqueue(session, conv, Reply.say("Bot: nhắc lịch hẹn"), purpose="notification")
    graph_server.fail_next.append((613, None))
    dispatcher.drain(ch_services, connectors)
    items = _outbox(ch_services)
    assert items[1].status == "pending" and "613" in (items[1].error or "")  # rate limit: retried later
    [claim] = dispatcher.claim_outbox(ch_services, list(connectors), now=utcnow() + timedelta(minutes=1))
    assert dispatcher.send_one(ch_services, connectors, claim, http_session()) == "sent"
    dispatcher.drain(ch_services, connectors)
    items = _outbox(ch_services)
    assert [i.status for i in items] == ["held", "sent", "held"]  # bot notification outside 24 h: held
    tagged = graph_server.sends()[-1].json
    assert tagged["messaging_type"] == "MESSAGE_TAG" and tagged["tag"] == "HUMAN_AGENT"
    assert all(c.json.get("tag") in (None, "HUMAN_AGENT") for c in graph_server.calls if c.json)


def _handed_over(services: Services, user: str = CITIZEN) -> None:
    """The conversation waits for an officer, and the citizen was told so (once)."""
    conv = _conv(services, "zalo", user)
    assert (conv.mode, conv.handoff_reason) == ("waiting_human", "turn_failed")
    notices = [json_text(item) for item in _outbox(services) if item.conversation_id == conv.id]
    assert len(notices) == 1 and notices[0].startswith(text("staff.handoff_turn_failed"))


def test_failed_turn_is_retried_then_dead_lettered(
        ch_services: Services, connectors: dict[str, Connector], dialogue: ScriptedDialogue) -> None:
    def broken(turn: object) -> list[Reply]:
        raise RuntimeError("dialogue bug")

    dialogue.answer = broken
    _zalo(ch_services, connectors, "xin chào", "f1")
    _zalo(ch_services, connectors, "còn ai không", "f2")  # waits behind f1 until f1 is given up
    later = utcnow()
    statuses = []
    for _ in range(worker.MAX_ATTEMPTS):
        later += timedelta(minutes=2)
        [claim] = worker.claim_events(ch_services, now=later)
        statuses.append(worker.process(ch_services, claim))
    assert statuses == ["pending"] * (worker.MAX_ATTEMPTS - 1) + ["failed"]
    with ch_services.sessions() as session:
        event = session.scalars(select(InboundEvent).where(InboundEvent.event_id == "msg:f1")).one()
        assert event.status == "failed" and "dialogue bug" in (event.error or "")
        assert session.scalars(select(Message.text).where(Message.direction == "in")).all() == ["xin chào"]
    _handed_over(ch_services)
    [item] = _outbox(ch_services)
    assert item.in_reply_to == "f1" and item.purpose == "reply"
    # The conversation is not blocked: f2 is taken next (and, with an officer on it, only transcribed).
    [claim] = worker.claim_events(ch_services, now=later)
    assert worker.process(ch_services, claim) == "done"
    assert len(_outbox(ch_services)) == 1


def test_a_turn_whose_lease_keeps_expiring_is_dead_lettered_not_retaken(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "tin làm treo máy", "h1")
    later = utcnow()
    for attempt in range(1, worker.MAX_ATTEMPTS + 1):  # each worker that takes it dies (or hangs)
        [claim] = worker.claim_events(ch_services, now=later)
        assert claim.attempts == attempt
        later += worker.LEASE + timedelta(seconds=1)
    [claim] = worker.claim_events(ch_services, now=later)
    assert worker.process(ch_services, claim) == "failed"  # not run again
    with ch_services.sessions() as session:
        event = session.scalars(select(InboundEvent)).one()
        assert event.status == "failed" and (event.error or "").startswith("LeaseExpired")
    _handed_over(ch_services)
    assert worker.claim_events(ch_services, now=later + worker.LEASE * 2) == []


def test_a_dead_letter_stays_one_when_even_the_handoff_fails(
        ch_services: Services, connectors: dict[str, Connector], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.pipeline import deadletter

    def broken(*args: object) -> list[Reply]:
        raise RuntimeError("handoff bug")

    monkeypatch.setattr(deadletter, "handoff", broken)
    _zalo(ch_services, connectors, "tin làm treo máy", "h4")
    with transaction(ch_services.sessions) as session:
        session.execute(update(InboundEvent).values(status="processing", attempts=worker.MAX_ATTEMPTS,
                                                    locked_until=utcnow() - timedelta(seconds=1)))
    [claim] = worker.claim_events(ch_services)
    assert worker.process(ch_services, claim) == "failed"
    with ch_services.sessions() as session:
        assert session.scalars(select(InboundEvent.status)).all() == ["failed"]
        assert session.scalars(select(Message)).all() == []  # the half-done handoff was rolled back
    assert _outbox(ch_services) == [] and worker.claim_events(ch_services) == []


def test_a_stuck_event_in_a_round_is_dead_lettered_and_the_others_run(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "tin làm treo máy", "h2", user="601")
    with transaction(ch_services.sessions) as session:
        session.execute(update(InboundEvent).values(status="processing", attempts=worker.MAX_ATTEMPTS,
                                                    locked_until=utcnow() - timedelta(seconds=1)))
    _zalo(ch_services, connectors, "xin chào", "h3", user="602")
    claims = worker.claim_events(ch_services, limit=10)
    assert worker.process_round(ch_services, claims) == ["failed", "done"]
    _handed_over(ch_services, "601")
    assert json_text(_outbox(ch_services)[-1]) == "Em nhận được: xin chào"


def test_zalo_staff_file_and_image(
        ch_services: Services, connectors: dict[str, Connector], zalo_server: ZaloStandIn) -> None:
    """A file goes out as an upload token (fetched from its URL); an image by its public URL."""
    _zalo(ch_services, connectors, "xin chào", "s1")
    worker.drain(ch_services, connectors)
    with transaction(ch_services.sessions) as session:
        conv = conversation_for(session, "zalo", CITIZEN)
        pdf = Reply(kind="file", url=f"{zalo_server.url}/files/mau.pdf", name="Mẫu tờ khai.pdf",
                    author="staff")
        enqueue(session, conv, pdf, purpose="staff")
        enqueue(session, conv, Reply(kind="image", url="https://example.org/so-do.png", author="staff"),
                purpose="staff")
    dispatcher.drain(ch_services, connectors)
    upload = next(c for c in zalo_server.calls if c.path == "/v2.0/oa/upload/file")
    assert b"%PDF-1.4 mau to khai" in upload.body and "Mẫu tờ khai.pdf".encode() in upload.body
    file_msg, image_msg = [c.json["message"] for c in zalo_server.sends()[-2:]]
    assert file_msg["attachment"] == {"type": "file", "payload": {"token": "upload-2"}}
    assert image_msg["attachment"]["payload"]["elements"] == [
        {"media_type": "image", "url": "https://example.org/so-do.png"}]
    assert [o.status for o in _outbox(ch_services)] == ["sent"] * 3


def test_a_round_of_turns_commits_once(ch_services: Services, connectors: dict[str, Connector]) -> None:
    for user in ("301", "302", "303"):
        _zalo(ch_services, connectors, f"Xin chào từ {user}", f"r-{user}", user=user)
    claims = worker.claim_events(ch_services, limit=10)
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(ch_services.engine, "commit", count)
    try:
        assert worker.process_round(ch_services, claims) == ["done", "done", "done"]
    finally:
        event.remove(ch_services.engine, "commit", count)
    assert len(commits) == 1
    assert sorted(json_text(item) for item in _outbox(ch_services)) == [
        "Em nhận được: Xin chào từ 301", "Em nhận được: Xin chào từ 302", "Em nhận được: Xin chào từ 303"]


def test_a_failing_turn_in_a_round_costs_only_itself(
        ch_services: Services, connectors: dict[str, Connector], dialogue: ScriptedDialogue) -> None:
    scripted = dialogue.answer

    def fragile(turn: Any) -> list[Reply]:
        if turn.inbound.text == "boom":
            raise RuntimeError("a bug in one flow")
        return scripted(turn)

    dialogue.answer = fragile
    _zalo(ch_services, connectors, "một", "f1", user="401")
    _zalo(ch_services, connectors, "boom", "f2", user="402")
    _zalo(ch_services, connectors, "ba", "f3", user="403")
    claims = worker.claim_events(ch_services, limit=10)
    assert worker.process_round(ch_services, claims) == ["done", "pending", "done"]  # retried later
    replies = sorted(json_text(item) for item in _outbox(ch_services))
    assert replies == ["Em nhận được: ba", "Em nhận được: một"]
    with ch_services.sessions() as session:
        failed = session.scalars(select(InboundEvent).where(InboundEvent.event_id == "msg:f2")).one()
        assert failed.status == "pending" and failed.error == "RuntimeError: a bug in one flow"
        assert session.scalars(select(Message.text).where(Message.direction == "in")).all().count("boom") == 0


def test_a_claim_lost_in_a_round_leaves_the_others_done(
        ch_services: Services, connectors: dict[str, Connector]) -> None:
    _zalo(ch_services, connectors, "một", "l1", user="501")
    _zalo(ch_services, connectors, "hai", "l2", user="502")
    claims = worker.claim_events(ch_services, limit=10)
    with transaction(ch_services.sessions) as session:  # the second lease expires ...
        session.execute(update(InboundEvent).where(InboundEvent.id == claims[1].id)
                        .values(locked_until=utcnow() - timedelta(seconds=1)))
    [retaken] = worker.claim_events(ch_services)  # ... and another worker takes it over
    assert worker.process_round(ch_services, claims) == ["done", "lost"]
    assert worker.process(ch_services, retaken) == "done"
    replies = sorted(json_text(item) for item in _outbox(ch_services))
    assert replies == ["Em nhận được: hai", "Em nhận được: một"]


def json_text(item: OutboxMessage) -> str:
    return str(item.reply["text"])
