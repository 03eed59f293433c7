"""Signature checks against the byte-exact vectors of channels.md §4."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.config import Settings
from bot.services import Services
from connectors.base import WebhookRequest
from connectors.facebook import FacebookConnector
from connectors.facebook import signature as fb_signature
from connectors.zalo import ZaloConnector
from connectors.zalo import signature as zalo_signature

ZALO_TEXT = (
    '{"app_id":"4312345678901234567","user_id_by_app":"5520199887766554433","event_name":"user_send_text",'
    '"timestamp":"1717146000000","sender":{"id":"8123456789012345678"},"recipient":{"id":"1987654321098765432"},'
    '"message":{"text":"Tôi muốn tra cứu hồ sơ số 000.00.12.H29-240531-0001",'
    '"msg_id":"a1b2c3d4e5f60718293a"}}'
).encode()
ZALO_TEXT_SHA = "7eb9f45670bfccd4b9dbce6d987b852a95236920a1504aa3d032d7b7a5e39970"
ZALO_TEXT_MAC = "mac=1737b21ac0453bb9042e1f1e356ff32215079c6c6949b6f3f4bf0f88cc34b967"
ZALO_FOLLOW = (
    b'{"app_id":"4312345678901234567","user_id_by_app":"5520199887766554433","event_name":"follow",'
    b'"timestamp":"1717146000123","oa_id":"1987654321098765432","follower":{"id":"8123456789012345678"},'
    b'"source":"oa_profile"}'
)
ZALO_FOLLOW_SHA = "393043a0bf051381c048f30c77dbd913b03e7a48d69e5c32e0ecfaeb2ad30d62"
ZALO_FOLLOW_MAC = "mac=862adba5731f321304207fc90f116686a48792b2b22ffeac8e8b1bd931e45f89"
APP_ID, OA_SECRET, OA_ID = "4312345678901234567", "TestOaSecretKey_ABC123xyz", "1987654321098765432"

FB_BODY = (
    '{"object":"page","entry":[{"id":"102030405060708","time":1717146000456,"messaging":[{"sender":'
    '{"id":"6543210987654321"},"recipient":{"id":"102030405060708"},"timestamp":1717146000321,"message":'
    '{"mid":"m_AbCdEf123456","text":"T\\u00f4i mu\\u1ed1n tra c\\u1ee9u h\\u1ed3 s\\u01a1"}}]}]}'
).encode("ascii")
FB_SHA = "a55139bfd68c9e79cb1891cf55b6ea49f0028f650e82995a0ba84e0e2028b55a"
FB_SIG = "sha256=487750dd9dfd2524f23cebe95d52332bd706c4d830b82a6920cc68fb1e3a92f0"
FB_SECRET = "test_app_secret_0123456789abcdef"


def test_fixtures_are_byte_exact() -> None:
    assert len(ZALO_TEXT) == 323 and hashlib.sha256(ZALO_TEXT).hexdigest() == ZALO_TEXT_SHA
    assert len(ZALO_FOLLOW) == 213 and hashlib.sha256(ZALO_FOLLOW).hexdigest() == ZALO_FOLLOW_SHA
    assert len(FB_BODY) == 279 and hashlib.sha256(FB_BODY).hexdigest() == FB_SHA


def test_zalo_signature_formula_matches_vectors() -> None:
    assert "mac=" + zalo_signature(APP_ID, ZALO_TEXT, "1717146000000", OA_SECRET) == ZALO_TEXT_MAC
    assert "mac=" + zalo_signature(APP_ID, ZALO_FOLLOW, "1717146000123", OA_SECRET) == ZALO_FOLLOW_MAC


@pytest.fixture
def zalo(settings: Settings) -> ZaloConnector:
    cfg = Settings(**{**settings.__dict__, "zalo_app_id": APP_ID, "zalo_oa_secret_key": OA_SECRET,
                      "zalo_app_secret": "the-app-secret", "zalo_refresh_token": "r"})
    connector = ZaloConnector(Services.build(cfg))
    connector.clock = lambda: 1717146000.0 + 30  # the vectors were signed on 2024-05-31
    return connector


def _zreq(body: bytes, header: str | None) -> WebhookRequest:
    return WebhookRequest(body=body, headers={"X-ZEvent-Signature": header} if header is not None else {})


def test_zalo_verify_accepts_vectors_with_and_without_prefix(zalo: ZaloConnector) -> None:
    assert zalo.verify(_zreq(ZALO_TEXT, ZALO_TEXT_MAC))
    assert zalo.verify(_zreq(ZALO_TEXT, ZALO_TEXT_MAC[4:]))  # bare hex, tolerant mode
    assert zalo.verify(_zreq(ZALO_FOLLOW, ZALO_FOLLOW_MAC))


def test_zalo_verify_rejects_forgeries(zalo: ZaloConnector) -> None:
    tampered = ZALO_TEXT.replace(b"0001", b"0002")
    assert not zalo.verify(_zreq(tampered, ZALO_TEXT_MAC))
    with_app_secret = "mac=" + zalo_signature(APP_ID, ZALO_TEXT, "1717146000000", "the-app-secret")
    assert not zalo.verify(_zreq(ZALO_TEXT, with_app_secret))
    with_oa_id = "mac=" + zalo_signature(OA_ID, ZALO_TEXT, "1717146000000", OA_SECRET)
    assert not zalo.verify(_zreq(ZALO_TEXT, with_oa_id))
    assert not zalo.verify(_zreq(ZALO_TEXT, None))
    assert not zalo.verify(_zreq(ZALO_TEXT, ""))
    assert not zalo.verify(_zreq(ZALO_TEXT, "mac="))


def test_zalo_verify_rejects_stale_timestamps(zalo: ZaloConnector) -> None:
    zalo.clock = lambda: 1717146000.0 + 3600
    assert not zalo.verify(_zreq(ZALO_TEXT, ZALO_TEXT_MAC))


def test_zalo_parses_vector(zalo: ZaloConnector) -> None:
    [event] = zalo.parse(_zreq(ZALO_TEXT, ZALO_TEXT_MAC))
    assert event.kind == "message" and event.user_id == "8123456789012345678"
    assert event.inbound is not None
    assert event.inbound.text == "Tôi muốn tra cứu hồ sơ số 000.00.12.H29-240531-0001"
    assert event.inbound.message_id == "a1b2c3d4e5f60718293a"
    [follow] = zalo.parse(_zreq(ZALO_FOLLOW, ZALO_FOLLOW_MAC))
    assert follow.inbound is not None and follow.inbound.kind == "follow"


@pytest.fixture
def facebook(settings: Settings) -> FacebookConnector:
    cfg = Settings(**{**settings.__dict__, "facebook_app_secret": FB_SECRET,
                      "facebook_verify_token": "meatyhamhock", "facebook_page_access_token": "t"})
    return FacebookConnector(Services.build(cfg))


def test_facebook_signature_matches_vector(facebook: FacebookConnector) -> None:
    assert "sha256=" + fb_signature(FB_SECRET, FB_BODY) == FB_SIG
    assert facebook.verify(WebhookRequest(FB_BODY, {"X-Hub-Signature-256": FB_SIG}))
    [event] = facebook.parse(WebhookRequest(FB_BODY, {"X-Hub-Signature-256": FB_SIG}))
    assert event.inbound is not None and event.inbound.text == "Tôi muốn tra cứu hồ sơ"


def test_facebook_verifier_does_not_reserialise(facebook: FacebookConnector) -> None:
    reserialised = json.dumps(json.loads(FB_BODY), ensure_ascii=False, separators=(",", ":")).encode()
    assert reserialised != FB_BODY
    assert "sha256=" + fb_signature(FB_SECRET, reserialised) != FB_SIG
    assert not facebook.verify(WebhookRequest(reserialised, {"X-Hub-Signature-256": FB_SIG}))
    legacy = {"X-Hub-Signature": "sha1=af7afc73197efaccb0c057cf4801ebf3b0d128c7"}
    assert not facebook.verify(WebhookRequest(FB_BODY, legacy))  # only the SHA-256 header counts
    assert not facebook.verify(WebhookRequest(FB_BODY, {}))


def test_facebook_subscription_challenge(facebook: FacebookConnector) -> None:
    args = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "meatyhamhock"}
    assert facebook.subscription_challenge(args) == "1158201444"
    assert facebook.subscription_challenge({**args, "hub.verify_token": "wrong"}) is None
    assert facebook.subscription_challenge({**args, "hub.mode": "unsubscribe"}) is None
