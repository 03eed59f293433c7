"""What each channel says: one SMS part, shortened between words; ZNS parameters within Zalo's limits;
a ZNS delivery receipt marks the notification delivered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.agency import local_today
from bot.db import transaction, utcnow
from bot.models import Conversation, Dossier, Notification
from bot.notify.content import SMS_GSM_PART, SMS_UNICODE_PART, sms_text, without_diacritics, zns_data
from bot.pipeline.receipts import apply_receipt
from bot.services import Services
from connectors.sms.esms import phone_0
from connectors.zns import phone_84

FIELDS = {"code": "000.00.12.H62-261105-0004", "status": "Đã có kết quả, chờ trả",
          "procedure": "Đăng ký khai sinh", "appointment": "05/11/2026",
          "centre": "Trung tâm Phục vụ hành chính công xã Hòa Bình"}


def test_without_diacritics() -> None:
    assert without_diacritics("Đã có kết quả, chờ trả") == "Da co ket qua, cho tra"


@pytest.mark.parametrize("unicode", [False, True])
@pytest.mark.parametrize("centre", ["Trung tâm Phục vụ hành chính công xã Hòa Bình", "UBND xã",
                                    "Trung tâm Phục vụ hành chính công phường Nguyễn Trung Trực "
                                    "thành phố Rạch Giá tỉnh Kiên Giang"])
def test_an_sms_is_one_part_with_code_and_status_and_whole_words(unicode: bool, centre: str) -> None:
    body = sms_text({**FIELDS, "centre": centre}, unicode)
    assert len(body) <= (SMS_UNICODE_PART if unicode else SMS_GSM_PART)
    assert FIELDS["code"] in body
    status = FIELDS["status"] if unicode else without_diacritics(FIELDS["status"])
    assert status in body
    assert unicode or body.isascii()
    plain_centre = centre if unicode else without_diacritics(centre)
    head = body.split(":")[0]
    # the centre's name is kept whole or cut between two of its words, never inside one
    assert head == "Hồ sơ " + FIELDS["code"] or head == "Ho so " + FIELDS["code"] or \
        (plain_centre.startswith(head) and (head == plain_centre or plain_centre[len(head)] == " "))


def test_zns_parameters_follow_the_mapping_within_30_characters() -> None:
    data = zns_data({**FIELDS, "procedure": "Đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế"})
    assert data["ma_ho_so"] == FIELDS["code"] and data["trang_thai"] == FIELDS["status"]
    assert len(data["ten_thu_tuc"]) <= 30 and "Đăng ký khai sinh, đăng ký".startswith(data["ten_thu_tuc"])


def test_phone_forms() -> None:
    assert phone_84("+84912345678") == phone_84("0912 345 678") == "84912345678"
    assert phone_0("+84912345678") == "0912345678"
    assert phone_84("12345") is None and phone_0("02838") is None


def test_a_zns_receipt_marks_the_notification_delivered(services: Services) -> None:
    with transaction(services.sessions) as session:
        conv = Conversation(channel="web", user_id="w", state={}, profile={})
        session.add(conv)
        session.flush()
        dossier = Dossier(code=FIELDS["code"], procedure_code="1.001193", conversation_id=conv.id,
                          channel="web", user_id="w", applicant={}, status="processing",
                          appointment_date=local_today() + timedelta(days=3))
        session.add(dossier)
        session.flush()
        session.add(Notification(dossier_id=dossier.id, dossier_status="processing", channel="zns",
                                 state="sent", platform_id="zns-77", channels=["zns"], fields={}, tries=[]))
    with transaction(services.sessions) as session:
        changed = apply_receipt(session, "zalo", "8123456789012345678",
                                {"event": "user_received_message", "message_ids": ["zns-77"],
                                 "at_ms": "1764900000000"}, utcnow())
    assert changed == 1
    with services.sessions() as session:
        row = session.scalars(select(Notification)).one()
        assert row.state == "delivered" and row.delivered_at is not None
