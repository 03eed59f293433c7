"""Officers see which notifications reached the citizen and how; who was told nothing; admins the month."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.db import transaction, utcnow
from bot.dossier_workflow import change_status
from bot.models import Conversation, Dossier, Message, OutboxMessage
from bot.notify import report, sender
from bot.notify.preference import choose
from bot.services import Services
from tests.staff.conftest import PASSWORD, Staff, add_conversation, add_dossier, login

from .standins import EsmsStandIn, ZnsStandIn


def _app(n_settings: Settings, make_app: Callable[[Settings], Flask], **extra: object) -> Flask:
    return make_app(Settings(**{**n_settings.__dict__, **extra}))


def _staff(app: Flask, role: str) -> Staff:
    from bot.staff.auth import create_user

    with transaction(app.extensions["motcua"].sessions) as session:
        create_user(session, f"nv-{role}", PASSWORD, role)
    client = app.test_client()
    assert login(client, f"nv-{role}").status_code == 302
    return Staff(client)


def _move(app: Flask, code: str, *statuses: str, at: object = None) -> None:
    for status in statuses:
        with transaction(app.extensions["motcua"].sessions) as session:
            dossier = session.scalars(select(Dossier).where(Dossier.code == code)).one()
            change_status(session, dossier, status, None, "staff:canbo1", at or utcnow())


def test_dossier_page_shows_how_each_notification_went(
        n_settings: Settings, make_app: Callable[[Settings], Flask], zns_server: ZnsStandIn,
        esms_server: EsmsStandIn) -> None:
    app = _app(n_settings, make_app)
    services: Services = app.extensions["motcua"]
    conv_id = add_conversation(app, mode="bot", reason=None, channel="web", user_id="w-1")
    code = add_dossier(app, conv_id)
    with transaction(services.sessions) as session:
        choose(session, session.get(Conversation, conv_id), "zalo", utcnow())
    zns_server.not_on_zalo.add("84912345678")
    _move(app, code, "processing")
    sender.drain(services)
    page = _staff(app, "officer").get(f"/staff/dossiers/{code}").get_data(as_text=True)
    section = page.split('id="notifications"')[1].split("</ul>")[0]
    assert "đã đến công dân qua SMS" in section and "-118" in section


def test_citizens_told_nothing_after_the_result_is_listed_for_a_call(
        n_settings: Settings, make_app: Callable[[Settings], Flask], esms_server: EsmsStandIn) -> None:
    app = _app(n_settings, make_app, notify_silent_days=3)
    services: Services = app.extensions["motcua"]
    silent_conv = add_conversation(app, mode="bot", reason=None, channel="web", user_id="w-1")
    told_conv = add_conversation(app, mode="bot", reason=None, channel="web", user_id="w-2")
    silent_code = add_dossier(app, silent_conv, status="processing")
    told_code = add_dossier(app, told_conv, code="000.00.12.H62-261129-0002", status="processing")
    recent_code = add_dossier(app, None, code="000.00.12.H62-261129-0003", status="processing")
    with transaction(services.sessions) as session:
        choose(session, session.get(Conversation, told_conv), "sms", utcnow())
    four_days_ago = utcnow() - timedelta(days=4)
    _move(app, silent_code, "result_ready", at=four_days_ago)
    _move(app, told_code, "result_ready", at=four_days_ago)
    _move(app, recent_code, "result_ready")
    sender.drain(services)
    with services.sessions() as session:
        listed = [d.code for d, _ in report.silent(session, utcnow(), 3)]
    assert listed == [silent_code]
    page = _staff(app, "officer").get("/staff/notifications").get_data(as_text=True)
    assert silent_code in page and told_code not in page and 'id="month"' not in page
    assert "zns on; sms on" in page  # which channels are on, for every officer


def test_admins_see_the_months_counts_and_cost(
        n_settings: Settings, make_app: Callable[[Settings], Flask], zns_server: ZnsStandIn,
        esms_server: EsmsStandIn) -> None:
    app = _app(n_settings, make_app, price_zns=300, price_sms=800, price_zalo_proactive=150)
    services: Services = app.extensions["motcua"]
    now = utcnow()
    zalo_conv = add_conversation(app, mode="bot", reason=None, channel="zalo", user_id="z-1")
    web_conv = add_conversation(app, mode="bot", reason=None, channel="web", user_id="w-1")
    zalo_code = add_dossier(app, zalo_conv)
    web_code = add_dossier(app, web_conv, code="000.00.12.H62-261129-0002")
    with transaction(services.sessions) as session:
        choose(session, session.get(Conversation, zalo_conv), "zalo", now)
        choose(session, session.get(Conversation, web_conv), "sms", now)
        conv = session.get(Conversation, zalo_conv)
        conv.last_inbound_at = now - timedelta(days=10)  # the Zalo window has closed
        # Zalo OA messages this month: 9 replies to one citizen message (8 free), one a week later (paid).
        asked = report.month_start(now) + timedelta(minutes=1)  # whatever the day: inside this month
        session.add(Message(conversation_id=zalo_conv, direction="in", author="citizen", text="?",
                            created_at=asked))
        for n in range(10):
            at = asked + timedelta(minutes=1 + n) if n < 9 else asked + timedelta(hours=49)
            session.add(OutboxMessage(conversation_id=zalo_conv, channel="zalo", user_id="z-1",
                                      reply={"kind": "text", "text": "x"}, status="sent", sent_at=at,
                                      created_at=at))
    _move(app, zalo_code, "processing")
    _move(app, web_code, "processing", "result_ready")
    sender.drain(services)
    with services.sessions() as session:
        month = report.this_month(session, services.settings, utcnow())
    assert (month.zns, month.sms, month.zalo_free, month.zalo_proactive) == (1, 2, 8, 2)
    assert month.cost == 300 + 2 * 800 + 2 * 150
    page = _staff(app, "admin").get("/staff/notifications").get_data(as_text=True)
    assert 'id="month"' in page and "zns on; sms on" in page
