"""Status changes reach the citizen: by SMS after a web-chat submission, by ZNS when the Zalo window has
closed, by SMS when ZNS refuses for good; temporary errors are retried, and nothing is sent twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction, utcnow
from bot.dossier import status_label
from bot.dossier_workflow import change_status
from bot.models import ConsentRecord, Conversation, Dossier, Notification, OutboxMessage
from bot.notify import sender
from bot.notify.channels import enabled
from bot.notify.content import without_diacritics
from bot.notify.preference import choose
from bot.pipeline import dispatcher
from bot.services import Services
from connectors import build_connectors
from tests.channels.standins import ZaloStandIn

from .standins import EsmsStandIn, ZnsStandIn

CODE = "000.00.12.H62-261129-0001"
PHONE = "+84912345678"


def _citizen(services: Services, channel: str, choice: str | None, *, last_inbound_days: float = 0,
             phone: str | None = PHONE, user_id: str = "u-1") -> int:
    """A conversation with one accepted dossier and the citizen's choice."""
    now = utcnow()
    with transaction(services.sessions) as session:
        conv = Conversation(channel=channel, user_id=user_id, state={}, profile={},
                            last_inbound_at=now - timedelta(days=last_inbound_days),
                            last_inbound_message_id="mid.1")
        session.add(conv)
        session.flush()
        if choice:
            choose(session, conv, choice, now)
        # Accepted by an officer already: the official code is what the citizen is told.
        dossier = Dossier(code="TN-4F7K-2Q9V", official_code=CODE, procedure_code="1.001193",
                          procedure_name="Đăng ký khai sinh",
                          conversation_id=conv.id, channel=channel, user_id=user_id, applicant={},
                          phone=phone,
                          status="received", appointment_date=local_today() + timedelta(days=5))
        session.add(dossier)
        session.flush()
        return dossier.id


def _change(services: Services, dossier_id: int, status: str) -> None:
    with transaction(services.sessions) as session:
        dossier = session.get(Dossier, dossier_id)
        assert dossier is not None
        change_status(session, dossier, status, None, "staff:canbo1", utcnow())


def _send_all(services: Services) -> None:
    """Both dispatchers until nothing is due (the chat's outbox first: a notification follows it)."""
    for _ in range(20):
        moved = dispatcher.drain(services, build_connectors(services, quiet=True))
        moved += sender.drain(services)
        if not moved:
            return


def _notifications(services: Services) -> list[Notification]:
    with services.sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_channels_without_settings_are_off(n_services: Services, services: Services) -> None:
    assert enabled(n_services.settings) == ("zns", "sms")
    assert enabled(services.settings) == ()


def test_web_citizen_who_chose_sms_gets_every_status_change_by_sms(
        n_services: Services, esms_server: EsmsStandIn, zns_server: ZnsStandIn) -> None:
    dossier_id = _citizen(n_services, "web", "sms")
    path = ["processing", "supplement_requested", "received", "processing", "result_ready", "returned"]
    for status in path:
        if status == "supplement_requested":
            with transaction(n_services.sessions) as session:
                dossier = session.get(Dossier, dossier_id)
                assert dossier is not None
                change_status(session, dossier, status, None, "staff:canbo1", utcnow(),
                              items=["Bản sao giấy chứng sinh"])
        else:
            _change(n_services, dossier_id, status)
        _send_all(n_services)
    sms = esms_server.sends()
    assert len(sms) == len(path)
    for call, status in zip(sms, path, strict=True):
        body = call.json
        assert set(body) >= {"ApiKey", "SecretKey", "Phone", "Content", "Brandname", "SmsType", "RequestId"}
        assert body["Phone"] == "0912345678" and body["SmsType"] == "2" and body["Brandname"] == "XAHOABINH"
        assert CODE in body["Content"]
        assert without_diacritics(status_label(status)) in body["Content"]
        assert body["Content"].isascii() and len(body["Content"]) <= 160 and body["IsUnicode"] == "0"
    assert len({c.json["RequestId"] for c in sms}) == len(path)
    assert zns_server.sends() == []
    rows = _notifications(n_services)
    assert [(n.channel, n.state) for n in rows] == [("sms", "sent")] * len(path)
    with n_services.sessions() as session:  # the choice is recorded as a consent, its legal basis
        purposes = session.scalars(select(ConsentRecord.purpose).where(ConsentRecord.granted)).all()
    assert "notify:sms" in purposes


def test_closed_zalo_window_goes_by_zns(n_services: Services, zns_server: ZnsStandIn,
                                        zalo_server: ZaloStandIn, esms_server: EsmsStandIn) -> None:
    dossier_id = _citizen(n_services, "zalo", "zalo", last_inbound_days=10)
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    [zns] = zns_server.sends()
    assert zns.headers["access_token"] == zalo_server.access_token
    assert zns.json["phone"] == "84912345678" and zns.json["template_id"] == "tpl-status"
    assert zns.json["template_data"]["ma_ho_so"] == CODE
    assert zns.json["template_data"]["trang_thai"] == status_label("processing")
    assert zns.json["tracking_id"] == f"motcua-n{_notifications(n_services)[0].id}"
    assert zalo_server.sends() == [] and esms_server.sends() == []
    [row] = _notifications(n_services)
    assert (row.channel, row.state, row.platform_id) == ("zns", "sent", "zns-1")
    with n_services.sessions() as session:  # nothing held for the citizen's next message either
        assert session.scalars(select(OutboxMessage)).all() == []


def test_open_zalo_window_uses_the_chat(n_services: Services, zns_server: ZnsStandIn,
                                        zalo_server: ZaloStandIn) -> None:
    dossier_id = _citizen(n_services, "zalo", "zalo", last_inbound_days=1)
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    [sent] = zalo_server.sends()
    assert CODE in sent.json["message"]["text"]
    assert zns_server.sends() == []
    [row] = _notifications(n_services)
    assert (row.channel, row.state) == ("chat", "sent")


def test_zns_permanent_error_falls_back_to_sms(n_services: Services, zns_server: ZnsStandIn,
                                               esms_server: EsmsStandIn) -> None:
    zns_server.not_on_zalo.add("84912345678")
    dossier_id = _citizen(n_services, "zalo", "zalo", last_inbound_days=10)
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    assert zns_server.sends() == []
    [sms] = esms_server.sends()
    assert CODE in sms.json["Content"]
    [row] = _notifications(n_services)
    assert (row.channel, row.state) == ("sms", "sent")
    assert [t["channel"] for t in row.tries] == ["zns", "sms"]
    assert "-118" in row.tries[0]["error"]


def test_unapproved_template_and_quota_fall_back(n_services: Services, zns_server: ZnsStandIn,
                                                 esms_server: EsmsStandIn) -> None:
    zns_server.approved.clear()
    first = _citizen(n_services, "zalo", "zalo", last_inbound_days=10)
    _change(n_services, first, "processing")
    _send_all(n_services)
    zns_server.approved.add("tpl-status")
    zns_server.quota = 0
    _change(n_services, first, "result_ready")
    _send_all(n_services)
    rows = _notifications(n_services)
    assert [r.tries[0]["error"].split(":")[0] for r in rows] == ["permanent -131", "permanent -144"]
    assert [(r.channel, r.state) for r in rows] == [("sms", "sent"), ("sms", "sent")]
    assert len(esms_server.sends()) == 2


def test_temporary_errors_are_retried_and_nothing_is_sent_twice(
        n_services: Services, zns_server: ZnsStandIn, esms_server: EsmsStandIn,
        zalo_server: ZaloStandIn) -> None:
    zns_server.fail_next.extend([("http", 503), -100])  # gateway down, then Zalo's own error
    zalo_server.access_token = "access-rotated"  # the stored token is stale: -124, refreshed once
    zalo_server.refresh_token = "refresh-1"
    dossier_id = _citizen(n_services, "zalo", "zalo", last_inbound_days=10)
    _change(n_services, dossier_id, "processing")
    for _ in range(6):  # each retry is due after its backoff: make it due now
        _send_all(n_services)
        with transaction(n_services.sessions) as session:
            for row in session.scalars(select(Notification).where(Notification.state == "pending")):
                row.next_attempt_at = utcnow() - timedelta(seconds=1)
    [zns] = zns_server.sends()
    assert esms_server.sends() == []
    [row] = _notifications(n_services)
    assert (row.channel, row.state) == ("zns", "sent")
    assert [t["result"] for t in row.tries] == ["retry", "retry", "sent"]
    # Every call to ZNS named the same message.
    assert {c.json["tracking_id"] for c in zns_server.calls if c.json} == {zns.json["tracking_id"]}


def test_two_senders_never_send_the_same_notification(n_services: Services,
                                                      esms_server: EsmsStandIn) -> None:
    dossier_id = _citizen(n_services, "web", "sms")
    _change(n_services, dossier_id, "processing")
    now = utcnow()
    first = sender.claim(n_services, now)
    second = sender.claim(n_services, now)
    assert len(first) == 1 and second == []
    http = sender.http_session()
    sender.Sender(n_services).send(first[0], http)
    # Sent and finished: even after any lease would have expired, nobody claims it again.
    assert sender.claim(n_services, now + timedelta(minutes=5)) == []
    assert len(esms_server.sends()) == 1


def test_a_crashed_senders_claim_is_taken_over_and_its_late_finish_ignored(
        n_services: Services, esms_server: EsmsStandIn) -> None:
    dossier_id = _citizen(n_services, "web", "sms")
    _change(n_services, dossier_id, "processing")
    now = utcnow()
    [crashed] = sender.claim(n_services, now)
    [taken] = sender.claim(n_services, now + sender.LEASE + timedelta(seconds=1))
    assert taken.id == crashed.id and taken.attempts == crashed.attempts + 1
    assert not sender._finish(n_services, crashed, state="failed")  # no longer its claim
    sender.Sender(n_services).send(taken, sender.http_session())
    assert [(n.state, n.channel) for n in _notifications(n_services)] == [("sent", "sms")]
    assert len(esms_server.sends()) == 1


def test_without_a_choice_or_when_stopped_no_phone_channel_is_used(
        n_services: Services, zns_server: ZnsStandIn, esms_server: EsmsStandIn) -> None:
    dossier_id = _citizen(n_services, "zalo", None, last_inbound_days=10)
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    [row] = _notifications(n_services)
    assert row.state == "none"
    with n_services.sessions() as session:  # held for the citizen's next message, as before
        assert [o.status for o in session.scalars(select(OutboxMessage))] == ["held"]
    assert zns_server.sends() == [] and esms_server.sends() == []


def test_failed_everywhere_is_failed_with_the_platform_errors(
        n_services: Services, zns_server: ZnsStandIn, esms_server: EsmsStandIn) -> None:
    zns_server.fail_next.append(-131)
    esms_server.fail_next.append(146)
    dossier_id = _citizen(n_services, "web", "zalo")
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    [row] = _notifications(n_services)
    assert row.state == "failed"
    assert [(t["channel"], t["error"].split(":")[0]) for t in row.tries] == [
        ("zns", "permanent -131"), ("sms", "permanent 146")]


def test_an_erasure_withdraws_the_choice(n_services: Services, esms_server: EsmsStandIn) -> None:
    from bot.consent import erase

    dossier_id = _citizen(n_services, "web", "sms")
    with transaction(n_services.sessions) as session:
        dossier = session.get(Dossier, dossier_id)
        assert dossier is not None
        conversation = session.get(Conversation, dossier.conversation_id)
        assert conversation is not None
        erase(session, n_services.settings, conversation, utcnow())
    _change(n_services, dossier_id, "processing")
    _send_all(n_services)
    assert esms_server.sends() == []
    assert [n.state for n in _notifications(n_services)] == ["none"]
