"""Consent recorded per text version, and erasure that removes what the citizen gave us but keeps
submitted dossiers (administrative records), with a counts-only log."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.consent import (
    CONSENT_DETAILS,
    CONSENT_NO,
    CONSENT_VERSION,
    CONSENT_YES,
    _consent_version,
    consent_details,
    consent_prompt,
    consent_text,
    erase,
    has_consent,
    record,
)
from bot.db import transaction
from bot.document import accept_upload, path_of
from bot.dossier import DocumentEntry, lookup
from bot.models import (
    ConsentRecord,
    Conversation,
    Dossier,
    DossierDocument,
    ErasureRecord,
    InboundEvent,
    Message,
    OutboxMessage,
    StoredFile,
)
from bot.retention import Retention
from bot.services import Services
from bot.transcript import conversation_for

from .test_document import jpeg, pdf, png
from .test_dossier import AGENCY, make

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_consent_text_names_controller_purpose_data_recipients_retention_and_rights(
        services: Services) -> None:
    retention = Retention.load(services.settings.data_dir)
    body = consent_text(AGENCY, services.settings, "đăng ký khai sinh", "facebook")
    assert f"{AGENCY.name} là bên kiểm soát và xử lý dữ liệu cá nhân" in body  # the controller
    assert "đăng ký khai sinh" in body
    assert "số định danh" in body and "ảnh giấy tờ" in body
    assert "người đã mất" in body and "có quyền hoặc được họ đồng ý" in body  # others' data
    assert "Công an xã" in body and "Meta" in body and "ra nước ngoài" in body  # recipients, transfer abroad
    assert f"{services.settings.draft_ttl_days} ngày" in body
    assert f"{retention.finished_dossier_days} ngày" in body
    assert "xóa dữ liệu của tôi" in body and "khiếu nại" in body
    assert "91/2025/QH15" in body and "356/2025" in body
    assert len(body) < 1000  # chat-sized; the rest is behind "Xem chi tiết"
    assert "Zalo" in consent_text(AGENCY, services.settings, channel="zalo")
    assert "Meta" not in consent_text(AGENCY, services.settings, channel="zalo")
    prompt = consent_prompt(AGENCY, services.settings)
    assert [b.payload for b in prompt.buttons] == [CONSENT_YES, CONSENT_NO, CONSENT_DETAILS]
    assert "thủ tục hành chính" in prompt.text  # default purpose


def test_the_details_say_sensitive_data_the_id_card_every_period_and_where_to_complain(
        services: Services) -> None:
    retention = Retention.load(services.settings.data_dir)
    full = consent_details(AGENCY, services.settings, "đăng ký khai tử")
    assert AGENCY.address in full and AGENCY.phone in full
    assert "nhạy cảm" in full and "giấy báo tử" in full
    assert "mã QR" in full and "ngày cấp" in full and "không được lưu" in full  # the ID card reading
    assert "VNG" in full and "Meta" in full and "Công an xã" in full
    assert f"{services.settings.draft_ttl_days} ngày" in full
    assert f"{retention.finished_dossier_days} ngày" in full and f"{retention.transcript_days} ngày" in full
    assert "điền sẵn cho lần sau" in full  # the remembered applicant details (flows/kinds/submit.py)
    assert "Bộ Công an" in full and "khiếu nại" in full


def test_version_is_tied_to_the_consent_text(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "data" / "templates" / "consent.yml"
    assert _consent_version(source) == CONSENT_VERSION
    edited = tmp_path / "consent.yml"
    original = source.read_text(encoding="utf-8")
    edited.write_text(original.replace("Quyền của anh/chị", "Quyền"), encoding="utf-8")
    assert _consent_version(edited) != CONSENT_VERSION
    unrelated = tmp_path / "consent2.yml"
    unrelated.write_text(source.read_text(encoding="utf-8").replace("Em cảm ơn", "Cảm ơn"), encoding="utf-8")
    assert _consent_version(unrelated) == CONSENT_VERSION  # only the consent text itself counts


def test_record_and_has_consent(services: Services) -> None:
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "zalo", "c1")
        assert not has_consent(s, conv)
        record(s, conv, False, NOW)
        assert not has_consent(s, conv)
        entry = record(s, conv, True, NOW)
        assert (entry.text_version, entry.granted, entry.purpose) == (CONSENT_VERSION, True, "dossier")
        assert has_consent(s, conv)
        assert not has_consent(s, conv, purpose="feedback")
        record(s, conv, False, NOW)  # withdrawal
        assert not has_consent(s, conv)
        record(s, conv, True, NOW)
        other = conversation_for(s, "zalo", "c2")
        assert not has_consent(s, other)


def test_consent_to_an_older_text_version_asks_again(services: Services) -> None:
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "old")
        s.add(
            ConsentRecord(
                conversation_id=conv.id,
                purpose="dossier",
                text_version="v1-000000000000",
                granted=True,
                at=NOW,
            )
        )
        s.flush()
        assert not has_consent(s, conv)


def test_erasure_removes_personal_data_keeps_submitted_dossiers(services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, files_dir=tmp_path / "files")
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "zalo", "erase-me")
        record(s, conv, True, NOW)
        conv.profile = {"name": "Nguyễn Văn An", "phone": "+84912345678"}
        conv.state = {"active": {"flow": "khai_sinh", "slots": {"child_name": "Nguyễn Văn Bình"}}}
        s.add_all(
            [
                Message(conversation_id=conv.id, direction="in", author="citizen", text="0912345678"),
                Message(conversation_id=conv.id, direction="out", author="bot", text="Cảm ơn anh An"),
            ]
        )
        s.add_all(
            [
                OutboxMessage(
                    conversation_id=conv.id,
                    channel="zalo",
                    user_id="erase-me",
                    reply={"kind": "text", "text": "Anh An ơi"},
                    status="sent",
                ),
                OutboxMessage(
                    conversation_id=conv.id,
                    channel="zalo",
                    user_id="erase-me",
                    reply={"kind": "text", "text": "sắp gửi"},
                    status="pending",
                ),
            ]
        )
        s.add_all(
            [
                InboundEvent(
                    channel="zalo",
                    event_id="e1",
                    user_id="erase-me",
                    raw=b'{"text":"0912345678"}',
                    inbound={"text": "0912345678"},
                    status="done",
                ),
                InboundEvent(
                    channel="zalo",
                    event_id="e2",
                    user_id="erase-me",
                    raw=b'{"text":"xoa"}',
                    inbound={"text": "xóa dữ liệu của tôi"},
                    status="processing",
                ),
            ]
        )
        submitted_file = accept_upload(s, settings, png(640, 480), conv)
        loose_photo = accept_upload(s, settings, jpeg(640, 480), conv)
        loose_pdf = accept_upload(s, settings, pdf(), conv)
        dossier = make(s, "erase-me", NOW, documents=[DocumentEntry("Giấy chứng sinh", submitted_file.id)])
        # someone else's data must not be touched
        other = conversation_for(s, "zalo", "keep-me")
        other.profile = {"name": "Trần Thị B"}
        record(s, other, True, NOW)
        s.add(Message(conversation_id=other.id, direction="in", author="citizen", text="xin chào"))
        other_file = accept_upload(s, settings, pdf(), other)
        ids = {
            "conv": conv.id,
            "other": other.id,
            "dossier": dossier.id,
            "kept": submitted_file.id,
            "loose": [loose_photo.id, loose_pdf.id],
            "other_file": other_file.id,
        }
        paths = {f.id: path_of(settings, f) for f in (submitted_file, loose_photo, loose_pdf, other_file)}
        code = dossier.code

    with transaction(services.sessions) as s:
        conv = s.get(Conversation, ids["conv"])
        assert conv is not None
        report = erase(s, settings, conv, NOW)
        # files disappear from disk only after the commit
        assert all(p.exists() for p in paths.values())

    assert (report.profile_fields, report.draft_cleared, report.messages_deleted) == (2, True, 2)
    assert (report.events_cleared, report.outbox_deleted) == (1, 1)
    assert (report.files_deleted, report.files_kept, report.dossiers_kept) == (2, 1, 1)
    assert report.kept_codes == (code,)
    text = report.replies()[0].text
    assert code in text and "lưu giữ" in text and "2 tệp" in text

    for file_id in ids["loose"]:
        assert not paths[file_id].exists()
    assert paths[ids["kept"]].exists() and paths[ids["other_file"]].exists()

    with services.sessions() as s:
        conv = s.get(Conversation, ids["conv"])
        assert conv is not None and conv.profile == {} and conv.state == {}
        assert s.scalars(select(Message).where(Message.conversation_id == conv.id)).all() == []
        outbox = s.scalars(select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id)).all()
        assert [o.status for o in outbox] == ["pending"]
        events = {e.event_id: e for e in s.scalars(select(InboundEvent))}
        assert events["e1"].raw == b"" and events["e1"].inbound is None  # id kept for de-duplication
        assert events["e2"].inbound == {"text": "xóa dữ liệu của tôi"}  # still being processed
        assert {f.id for f in s.scalars(select(StoredFile))} == {ids["kept"], ids["other_file"]}
        dossier = s.get(Dossier, ids["dossier"])
        assert dossier is not None and dossier.applicant
        assert [d.file_id for d in s.scalars(select(DossierDocument))] == [ids["kept"]]
        assert not has_consent(s, conv)
        log = s.scalars(select(ErasureRecord)).one()
        assert (log.conversation_id, log.channel, log.messages_deleted) == (conv.id, "zalo", 2)
        assert (log.files_deleted, log.files_kept, log.dossiers_kept) == (2, 1, 1)
        # the citizen can still follow the kept dossier
        view = lookup(s, code, conv, now=NOW)
        assert view is not None and view.owner
        # the other citizen is untouched
        other = s.get(Conversation, ids["other"])
        assert other is not None and other.profile == {"name": "Trần Thị B"} and has_consent(s, other)
        assert len(s.scalars(select(Message).where(Message.conversation_id == other.id)).all()) == 1


def test_erasure_rolled_back_keeps_files(services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, files_dir=tmp_path / "files")
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "rollback")
        stored = accept_upload(s, settings, pdf(), conv)
        where = path_of(settings, stored)
        conv_id = conv.id
    with services.sessions() as s, s.begin():
        conv = s.get(Conversation, conv_id)
        assert conv is not None
        erase(s, settings, conv, NOW)
        s.rollback()
    assert where.exists()
    with services.sessions() as s:
        assert s.scalars(select(StoredFile)).one().id == stored.id
        assert s.scalars(select(ErasureRecord)).first() is None


def test_erasure_with_nothing_to_keep(services: Services, tmp_path: Path) -> None:
    settings = replace(services.settings, files_dir=tmp_path / "files")
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "facebook", "fresh")
        report = erase(s, settings, conv, NOW, requested_by="staff:admin")
    assert (report.dossiers_kept, report.files_deleted, report.messages_deleted) == (0, 0, 0)
    text = report.replies()[0].text
    assert "đã xóa" in text and "lưu giữ" not in text and "tệp" not in text
    with services.sessions() as s:
        assert s.scalars(select(ErasureRecord)).one().requested_by == "staff:admin"
