"""Webhook endpoints: verify, store under (channel, event id), acknowledge; never a 500."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.config import Settings
from bot.models import InboundEvent

from .conftest import CITIZEN, fb_batch, fb_headers, fb_message, zalo_body, zalo_headers


def _events(app: Flask) -> list[InboundEvent]:
    with app.extensions["motcua"].sessions() as session:
        return list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def _count(app: Flask) -> int:
    with app.extensions["motcua"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


def test_zalo_signed_vietnamese_message_is_stored(ch_app: Flask) -> None:
    body = zalo_body(text="Cho em hỏi thủ tục đăng ký khai sinh ạ", msg_id="zm-1")
    resp = ch_app.test_client().post("/webhooks/zalo", data=body, headers=zalo_headers(body))
    assert resp.status_code == 200
    [event] = _events(ch_app)
    assert event.channel == "zalo" and event.event_id == "msg:zm-1" and event.user_id == CITIZEN
    assert event.raw == body and event.status == "pending"
    assert event.inbound is not None and event.inbound["text"] == "Cho em hỏi thủ tục đăng ký khai sinh ạ"


def test_zalo_bare_hex_signature_is_accepted(ch_app: Flask) -> None:
    body = zalo_body(msg_id="zm-2")
    resp = ch_app.test_client().post("/webhooks/zalo", data=body, headers=zalo_headers(body, prefix=""))
    assert resp.status_code == 200 and _count(ch_app) == 1


def test_forged_or_missing_zalo_signature_is_401_and_stores_nothing(ch_app: Flask) -> None:
    client = ch_app.test_client()
    body = zalo_body(msg_id="zm-3")
    forged = zalo_headers(body, secret="not-the-oa-secret")
    assert client.post("/webhooks/zalo", data=body, headers=forged).status_code == 401
    tampered = body.replace("tra cứu".encode(), b"tra cuu")
    assert client.post("/webhooks/zalo", data=tampered, headers=zalo_headers(body)).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert client.post("/webhooks/zalo", data=body, headers=unsigned).status_code == 401
    assert _count(ch_app) == 0


def test_stale_zalo_timestamp_is_rejected(ch_app: Flask) -> None:
    body = zalo_body(msg_id="zm-old", timestamp=1717146000000)
    resp = ch_app.test_client().post("/webhooks/zalo", data=body, headers=zalo_headers(body))
    assert resp.status_code == 401 and _count(ch_app) == 0


def test_duplicate_delivery_is_acknowledged_and_ignored(ch_app: Flask) -> None:
    client = ch_app.test_client()
    body = zalo_body(msg_id="zm-dup")
    for _ in range(3):
        assert client.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 200
    assert _count(ch_app) == 1


def test_malformed_and_unknown_events_never_500(ch_app: Flask) -> None:
    client = ch_app.test_client()
    garbage = {"X-ZEvent-Signature": "mac=00"}
    assert client.post("/webhooks/zalo", data=b"{not json", headers=garbage).status_code == 400
    unknown = zalo_body(event="user_reacted_message")
    assert client.post("/webhooks/zalo", data=unknown, headers=zalo_headers(unknown)).status_code == 200
    not_object = b"[1,2,3]"
    resp = client.post("/webhooks/facebook", data=not_object, headers=fb_headers(not_object))
    assert resp.status_code == 400
    bad_json = b'{"object":"page","entry":'
    assert client.post("/webhooks/facebook", data=bad_json, headers=fb_headers(bad_json)).status_code == 400
    other = json.dumps({"object": "instagram", "entry": []}).encode()
    assert client.post("/webhooks/facebook", data=other, headers=fb_headers(other)).status_code == 200
    assert _count(ch_app) == 0


def test_zalo_event_kinds(ch_app: Flask) -> None:
    client = ch_app.test_client()
    bodies = [
        zalo_body(event="user_send_image", msg_id="img-1", text="",
                  **{"message": {"msg_id": "img-1", "attachments": [
                      {"type": "image", "payload": {"url": "https://f.zdn.vn/a.jpg", "thumbnail": "x"}}]}}),
        zalo_body(event="user_send_file", msg_id="file-1",
                  **{"message": {"msg_id": "file-1", "attachments": [{"type": "file", "payload": {
                      "url": "https://f.zdn.vn/don.pdf", "name": "don_de_nghi.pdf", "size": "233947"}}]}}),
        zalo_body(event="user_send_location", msg_id="loc-1",
                  **{"message": {"msg_id": "loc-1", "attachments": [{"type": "location", "payload": {
                      "coordinates": {"latitude": "10.76", "longitude": "106.65"}}}]}}),
        zalo_body(event="user_send_sticker", msg_id="st-1"),
        zalo_body(event="user_send_text", msg_id="pl-1", text="#mc:check_status"),
        zalo_body(event="user_seen_message", msg_id="zmsg-9"),
        zalo_body(event="oa_send_text", msg_id="zmsg-10", text="Dạ em chào anh/chị"),
    ]
    for body in bodies:
        assert client.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 200
    events = {e.event_id: e for e in _events(ch_app)}
    image = events["msg:img-1"].inbound
    assert image and image["kind"] == "attachment" and image["attachments"][0]["kind"] == "image"
    pdf = events["msg:file-1"].inbound
    assert pdf is not None
    assert (pdf["attachments"][0]["size"], pdf["attachments"][0]["name"]) == (233947, "don_de_nghi.pdf")
    assert events["msg:loc-1"].inbound["kind"] == "location"  # type: ignore[index]
    assert events["msg:st-1"].inbound["kind"] == "sticker"  # type: ignore[index]
    assert events["msg:pl-1"].inbound["payload"] == "check_status"  # type: ignore[index]
    receipts = [e for e in events.values() if e.kind == "receipt"]
    assert len(receipts) == 1
    assert receipts[0].user_id == CITIZEN
    detail = receipts[0].detail
    assert detail["event"] == "user_seen_message" and detail["message_ids"] == ["zmsg-9"]
    assert isinstance(detail["at_ms"], int)
    assert events["oa:zmsg-10"].kind == "echo" and events["oa:zmsg-10"].user_id == CITIZEN


def test_disabled_channel_answers_404(app: Flask) -> None:
    client = app.test_client()
    body = zalo_body()
    assert client.post("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 404
    assert client.get("/webhooks/facebook?hub.mode=subscribe").status_code == 404
    assert client.post("/webhooks/nowhere", data=b"{}").status_code == 404


def test_oversized_or_misaddressed_webhook_is_refused_without_storing(ch_app: Flask) -> None:
    from bot.web.webhooks import MAX_BODY_BYTES, _first_values

    client = ch_app.test_client()
    huge = zalo_body(text="a" * (MAX_BODY_BYTES + 1))
    resp = client.post("/webhooks/zalo", data=huge, headers=zalo_headers(huge))
    assert resp.status_code == 413 and resp.content_type.startswith("text/plain")
    body = zalo_body()
    assert client.post("/webhooks/zalo/x", data=body, headers=zalo_headers(body)).status_code in (404, 405)
    assert client.put("/webhooks/zalo", data=body, headers=zalo_headers(body)).status_code == 405
    assert _count(ch_app) == 0
    resp = client.post("/webhooks/zalo?x=1&x=2", data=body, headers=zalo_headers(body))
    assert resp.status_code == 200 and resp.get_data() == b"ok" and _count(ch_app) == 1
    # the query string reaches the connector as Flask's request.args.to_dict() would give it
    assert _first_values({"QUERY_STRING": "x=1&x=2&y=&z=%C4%91"}) == {"x": "1", "y": "", "z": "đ"}


def test_facebook_subscription(ch_app: Flask) -> None:
    client = ch_app.test_client()
    url = "/webhooks/facebook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="
    ok = client.get(url + "meatyhamhock")
    assert ok.status_code == 200 and ok.get_data() == b"1158201444"
    bad = client.get(url + "nope")
    assert bad.status_code == 403


def test_facebook_batch_every_entry_and_event(ch_app: Flask, ch_settings: Settings) -> None:
    psid_a, psid_b = "6543210987654321", "6543210987650000"
    read = {"sender": {"id": psid_a}, "recipient": {"id": "102030405060708"}, "timestamp": 1,
            "read": {"watermark": 1458668856253}}
    delivery = {"sender": {"id": psid_a}, "recipient": {"id": "102030405060708"}, "timestamp": 1,
                "delivery": {"mids": ["m_1"], "watermark": 1458668856253}}
    postback = {"sender": {"id": psid_b}, "recipient": {"id": "102030405060708"}, "timestamp": 2,
                "postback": {"mid": "m_pb", "title": "Tra cứu hồ sơ", "payload": "check_status"}}
    quick = fb_message(psid_b, "m_qr", text="Nộp hồ sơ", quick_reply={"payload": "submit"})
    image = {"sender": {"id": psid_a}, "recipient": {"id": "102030405060708"}, "timestamp": 3,
             "message": {"mid": "m_img", "attachments": [{"type": "image", "payload": {"url": "https://scontent.fbcdn.net/x.jpg"}}]}}
    own_echo = {"sender": {"id": "102030405060708"}, "recipient": {"id": psid_a}, "timestamp": 4,
                "message": {"is_echo": True, "app_id": 1517776481860111, "metadata": "motcua", "mid": "m_e1",
                            "text": "x"}}
    inbox_echo = {"sender": {"id": "102030405060708"}, "recipient": {"id": psid_b}, "timestamp": 5,
                  "message": {"is_echo": True, "app_id": 263902037430900, "mid": "m_e2", "text": "Chào anh"}}
    body = fb_batch([fb_message(psid_a, "m_a1"), read, delivery, image, own_echo],
                    [quick, postback, inbox_echo])
    resp = ch_app.test_client().post("/webhooks/facebook", data=body, headers=fb_headers(body))
    assert resp.status_code == 200
    events = {e.event_id: e for e in _events(ch_app)}
    assert len(events) == 8
    assert events["mid:m_a1"].inbound["text"] == "Tôi muốn nộp hồ sơ"  # type: ignore[index]
    assert events["mid:m_qr"].inbound["payload"] == "submit"  # quick-reply payload before text  # type: ignore[index]
    assert events["pb:m_pb"].inbound["payload"] == "check_status"  # type: ignore[index]
    assert events["mid:m_img"].inbound["attachments"][0]["url"].endswith("x.jpg")  # type: ignore[index]
    assert events["echo:m_e1"].kind == "echo" and events["echo:m_e2"].kind == "staff"
    assert events["echo:m_e2"].user_id == psid_b
    assert sum(e.kind == "receipt" for e in events.values()) == 2
    # the same batch again: acknowledged, nothing new
    again = ch_app.test_client().post("/webhooks/facebook", data=body, headers=fb_headers(body))
    assert again.status_code == 200 and _count(ch_app) == 8


def test_facebook_standby_and_forged(ch_app: Flask) -> None:
    client = ch_app.test_client()
    standby = json.dumps({"object": "page", "entry": [{"id": "102030405060708", "time": 1, "standby": [
        fb_message("6543210987654321", "m_sb", text="Cán bộ ơi")]}]}).encode()
    assert client.post("/webhooks/facebook", data=standby, headers=fb_headers(standby)).status_code == 200
    [event] = _events(ch_app)
    assert event.kind == "standby"
    body = fb_batch([fb_message("6543210987654321", "m_forged")])
    assert client.post("/webhooks/facebook", data=body, headers=fb_headers(body, "wrong")).status_code == 401
    assert client.post("/webhooks/facebook", data=body).status_code == 401
    assert _count(ch_app) == 1


def test_database_outage_answers_503_so_the_platform_retries(
        ch_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*args: object, **kwargs: object) -> int:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("bot.pipeline.ingest.store_events", down)
    body = zalo_body(msg_id="zm-down")
    resp = ch_app.test_client().post("/webhooks/zalo", data=body, headers=zalo_headers(body))
    assert resp.status_code == 503
