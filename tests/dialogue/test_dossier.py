"""Dossier submission: the bot's own online reference (never an official-looking code), an honest
estimate through the agency calendar, official codes unique under concurrency at acceptance, the
receipt, and status lookup by either code that shows details only to the owner."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.agency import Agency
from bot.db import transaction
from bot.document import accept_upload
from bot.dossier import (
    DocumentEntry,
    SubmissionError,
    dossiers_of,
    find_code,
    find_official_code,
    is_overdue,
    list_replies,
    lookup,
    make_code,
    processing_time,
    receipt,
    submit,
)
from bot.dossier_workflow import change_status
from bot.models import Dossier, DossierSequence, DossierStatusChange
from bot.services import Services
from bot.transcript import conversation_for

from .test_document import pdf, png

PREFIX = "000.00.12.H62"  # the shipped data/agency.yml's, used by acceptance (bot.dossier_workflow)
REFERENCE = re.compile(r"^TN-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
OFFICE_HOURS = [["07:30", "11:30"], ["13:30", "17:00"]]
AGENCY = Agency.from_dict(
    {
        "name": "Trung tâm Phục vụ hành chính công xã Thử Nghiệm",
        "address": "Số 1, xã Thử Nghiệm",
        "phone": "0200 3 812 345",
        "agency_code": PREFIX,
        "opening_hours": {d: OFFICE_HOURS for d in ("mon", "tue", "wed", "thu", "fri")},
        "same_day_cutoff": "15:00",
        "holidays": [{"date": f"2027-02-{d:02d}", "name": "Tết Nguyên đán"} for d in range(4, 11)],
        "accepted_procedures": ["1.001193", "9.999999"],
    }
)


@dataclass(frozen=True)
class Mode:
    mode: str
    duration_value: float | int | None
    duration_unit: str | None


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    short_name: str
    modes: tuple[Mode, ...]


class Catalog:
    """The slice of bot.catalog.store.Catalog that submission uses: get(code) -> procedure or None."""

    def __init__(self, *procedures: Procedure) -> None:
        self.by_code = {p.code: p for p in procedures}

    def get(self, code: str) -> Procedure | None:
        return self.by_code.get(code)


KHAI_SINH = Procedure(
    "1.001193",
    "Thủ tục đăng ký khai sinh",
    "Đăng ký khai sinh",
    (Mode("in_person", 5, "working_day"), Mode("online", 3, "working_day")),
)
NO_TIME = Procedure("9.999999", "Thủ tục không rõ thời hạn", "", (Mode("online", None, None),))
CATALOG = Catalog(KHAI_SINH, NO_TIME)


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A moment given in Vietnam time (UTC+7), as the aware UTC datetime the bot stores."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


def make(session, user: str, now: datetime, *, channel: str = "zalo", documents=(), applicant=None):  # type: ignore[no-untyped-def]
    conv = conversation_for(session, channel, user)
    return submit(
        session,
        conversation=conv,
        procedure_code="1.001193",
        applicant=applicant or {"child_name": "Nguyễn Văn An", "phone": "0912 345 678"},
        documents=list(documents),
        now=now,
        agency=AGENCY,
        catalog=CATALOG,
    )


def accept(session, dossier: Dossier, now: datetime, **given):  # type: ignore[no-untyped-def]
    """An officer's acceptance, as the console and the API make it."""
    return change_status(session, dossier, "received", None, "api", now, **given)


# ------------------------------------------------------------------------------------------ codes


def test_submission_gives_an_online_reference_and_no_official_code(services: Services) -> None:
    with transaction(services.sessions) as s:
        dossiers = [make(s, f"u{i}", vn(2026, 11, 27, 9)) for i in range(20)]
    codes = [d.code for d in dossiers]
    assert all(REFERENCE.match(c) for c in codes), codes
    assert len(set(codes)) == len(codes)
    for d in dossiers:
        assert (d.status, d.official_code, d.appointment_date) == ("waiting_acceptance", None, None)
        assert find_code(f"tra cứu hồ sơ {d.code}") == d.code
        assert find_official_code(d.code) is None, "a reference must never read as a one-stop code"
        assert not d.code.startswith(PREFIX)


def test_acceptance_gives_official_codes_that_reset_daily(services: Services) -> None:
    with transaction(services.sessions) as s:
        ds = [make(s, f"u{i}", vn(2026, 11, 27, 8)) for i in range(4)]
        accept(s, ds[0], vn(2026, 11, 27, 9))
        accept(s, ds[1], vn(2026, 11, 27, 16))
        # 23:30 in Vietnam on the 27th is still the 27th, although it is the 27th 16:30 UTC
        accept(s, ds[2], vn(2026, 11, 27, 23, 30))
        # 00:30 on the 28th in Vietnam is the 27th 17:30 UTC: a new day, a new sequence
        accept(s, ds[3], vn(2026, 11, 28, 0, 30))
    assert [d.official_code for d in ds] == [
        f"{PREFIX}-261127-0001", f"{PREFIX}-261127-0002", f"{PREFIX}-261127-0003", f"{PREFIX}-261128-0001"]
    assert all(REFERENCE.match(d.code) for d in ds), "the reference stays what the citizen was given"
    assert make_code("H26", date(2027, 1, 5), 12345) == "H26-270105-12345"


def test_submission_records_status_history_phone_and_documents(services: Services) -> None:
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "zalo", "owner")
        photo = accept_upload(s, services.settings, png(640, 480), conv)
        paper = accept_upload(s, services.settings, pdf(), conv)
        entries = [
            DocumentEntry("Giấy chứng sinh", photo.id),
            DocumentEntry("Giấy chứng sinh", paper.id),
            {"item": "Văn bản ủy quyền", "file_id": None, "not_applicable": True},
        ]
        dossier = make(
            s,
            "owner",
            vn(2026, 11, 27, 9),
            applicant={"phone": "+84 912.345.678", "x": "y"},
            documents=entries,
        )
        dossier_id = dossier.id
    with services.sessions() as s:
        d = s.get(Dossier, dossier_id)
        assert d is not None
        assert (d.status, d.phone, d.channel, d.user_id) == (
            "waiting_acceptance", "+84912345678", "zalo", "owner")
        assert d.procedure_name == "Đăng ký khai sinh"
        assert (d.processing_value, d.processing_unit) == (3, "working_day")
        assert d.applicant == {"phone": "+84 912.345.678", "x": "y"}
        assert [(x.item, x.file_id is not None, x.not_applicable) for x in d.documents] == [
            ("Giấy chứng sinh", True, False),
            ("Giấy chứng sinh", True, False),
            ("Văn bản ủy quyền", False, True),
        ]
        history = s.scalars(select(DossierStatusChange).where(DossierStatusChange.dossier_id == d.id)).all()
        assert [(h.status, h.actor) for h in history] == [("waiting_acceptance", "citizen")]


def test_files_of_another_conversation_are_refused(services: Services) -> None:
    with transaction(services.sessions) as s:
        other = conversation_for(s, "zalo", "someone-else")
        foreign = accept_upload(s, services.settings, pdf(), other)
        with pytest.raises(SubmissionError):
            make(s, "thief", vn(2026, 11, 27, 9), documents=[DocumentEntry("Giấy chứng sinh", foreign.id)])


def test_unknown_procedure_or_missing_time_is_a_submission_error(services: Services) -> None:
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "web", "w")
        for code in ("0.000000", "9.999999"):
            with pytest.raises(SubmissionError):
                submit(
                    s,
                    conversation=conv,
                    procedure_code=code,
                    applicant={},
                    documents=[],
                    now=vn(2026, 11, 27, 9),
                    agency=AGENCY,
                    catalog=CATALOG,
                )
        assert s.scalars(select(Dossier)).first() is None


# -------------------------------------------------------------------------------------- concurrency


def test_concurrent_acceptances_get_distinct_sequential_official_codes(services: Services) -> None:
    threads_count = 24
    now = vn(2026, 12, 1, 10)
    with transaction(services.sessions) as s:
        ids = [make(s, f"citizen-{i}", vn(2026, 12, 1, 8)).id for i in range(threads_count)]
    barrier = threading.Barrier(threads_count)
    codes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with transaction(services.sessions) as s:  # each thread: its own session and transaction
                dossier = s.get(Dossier, ids[i])
                accept(s, dossier, now)
                code = dossier.official_code
            with lock:
                codes.append(code)
        except BaseException as exc:  # reported by the assertion below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(codes) == threads_count == len(set(codes))
    assert sorted(codes) == [f"{PREFIX}-261201-{n:04d}" for n in range(1, threads_count + 1)]
    with services.sessions() as s:
        row = s.scalars(select(DossierSequence)).one()
        assert (row.agency_code, row.day, row.last) == (PREFIX, date(2026, 12, 1), threads_count)


# ------------------------------------------------------------------------------------- appointment


def test_processing_time_prefers_online_then_in_person() -> None:
    assert processing_time(KHAI_SINH) == (3, "working_day")
    in_person_only = Procedure(
        "x",
        "x",
        "x",
        (Mode("online", None, None), Mode("postal", 7, "working_day"), Mode("in_person", 4, "working_day")),
    )
    assert processing_time(in_person_only) == (4, "working_day")


# 3 working days, the start day counting as the first (one cut-off rule, bot.agency.appointment_date).
@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (vn(2026, 11, 27, 9), date(2026, 12, 1)),  # Friday morning: Fri, Mon, Tue
        (vn(2026, 11, 27, 14, 59), date(2026, 12, 1)),
        (vn(2026, 11, 27, 15, 0), date(2026, 12, 2)),  # at 15:00 counts from Monday
        (vn(2026, 11, 27, 16, 30), date(2026, 12, 2)),
        (vn(2026, 11, 28, 10), date(2026, 12, 2)),  # Saturday
        (vn(2027, 2, 3, 10), date(2027, 2, 12)),  # before Tết: Thu 4 - Wed 10 Feb are holidays
        (vn(2027, 2, 5, 9), date(2027, 2, 15)),  # during Tết: counts from Thu 11 Feb
    ],
)
def test_estimate_through_agency_calendar(services: Services, received: datetime, expected: date) -> None:
    with transaction(services.sessions) as s:
        dossier = make(s, "cal", received)
        assert (dossier.estimated_date, dossier.appointment_date) == (expected, None)


def test_no_estimate_beyond_the_holiday_list(services: Services) -> None:
    """The test agency lists holidays up to 2027: nothing is promised for 2028."""
    with transaction(services.sessions) as s:
        dossier = make(s, "far", vn(2027, 12, 30, 9))
        assert dossier.estimated_date is None
        body = receipt(dossier, CATALOG)[0].text
    assert "cán bộ sẽ báo" in body and "2028" not in body


def test_acceptance_counts_from_the_acceptance_moment(services: Services) -> None:
    with transaction(services.sessions) as s:
        dossier = make(s, "acc", vn(2026, 11, 27, 9))
        accept(s, dossier, vn(2026, 11, 30, 16, 30))  # Monday after the cut-off: Tue, Wed, Thu
        assert dossier.appointment_date == date(2026, 12, 3)
        assert dossier.accepted_at is not None and dossier.status == "received"


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (vn(2026, 11, 26, 10), date(2026, 11, 26)),  # Thursday 10:00: the same day
        (vn(2026, 11, 26, 16), date(2026, 11, 27)),  # Thursday 16:00: the next working day
        (vn(2026, 11, 27, 16), date(2026, 11, 30)),  # Friday 16:00: Monday
    ],
)
def test_same_day_procedure_from_the_real_catalogue(
        services: Services, received: datetime, expected: date) -> None:
    """Chứng thực bản sao (2.000815): the portal gives no time, the curated file gives value 0 from
    Điều 7 NĐ 23/2015, and submission turns it into a same-day appointment."""
    from bot.catalog.store import Catalog

    with transaction(services.sessions) as s:
        dossier = submit(
            s,
            conversation=conversation_for(s, "web", "same-day"),
            procedure_code="2.000815",
            applicant={"applicant_name": "Nguyễn Văn An", "phone": "0912 345 678"},
            documents=[],
            now=received,
            agency=AGENCY,
            catalog=Catalog.load(),
        )
        assert dossier.estimated_date == expected


# ----------------------------------------------------------------------------------------- receipt


def test_receipt_has_code_procedure_documents_date_and_how_to_check(services: Services) -> None:
    with transaction(services.sessions) as s:
        conv = conversation_for(s, "zalo", "r")
        photo = accept_upload(s, services.settings, png(640, 480), conv)
        dossier = make(
            s,
            "r",
            vn(2026, 11, 27, 9),
            documents=[
                DocumentEntry("Giấy chứng sinh", photo.id),
                DocumentEntry("Giấy ủy quyền", None, True),
            ],
        )
        replies = receipt(dossier, CATALOG)
    body = "\n".join(r.text for r in replies)
    assert dossier.code in replies[0].text and "Mã tiếp nhận trực tuyến" in replies[0].text
    assert PREFIX not in body, "no official-looking code before an officer accepts"
    assert "Đăng ký khai sinh" in body and "Giấy chứng sinh: 1 tệp" in body
    assert "Giấy ủy quyền: không có" in body
    assert "chờ cán bộ tiếp nhận" in body
    assert "dự kiến: 01/12/2026" in body and "Ngày hẹn trả kết quả: 01/12/2026" not in body
    assert f"tra cứu hồ sơ {dossier.code}" in body
    assert all(len(r.text) < 2000 for r in replies)


# ------------------------------------------------------------------------------------------ lookup


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("tra cứu hồ sơ 000.00.12.H62-261127-0004 giúp em", "000.00.12.H62-261127-0004"),
        ("ma ho so 000.00.12.h62-261127-0004", "000.00.12.H62-261127-0004"),
        ("000.00.12.H62 - 261127 - 0004", "000.00.12.H62-261127-0004"),
        ("000. 00. 12. H62-261127-0004.", "000.00.12.H62-261127-0004"),
        ("H26-231010-0001", "H26-231010-0001"),
        ("hồ sơ 000.00.06.H56-231027-0361 đâu rồi", "000.00.06.H56-231027-0361"),
        # The online reference: spaces, case and the letters people type for 0 and 1 tolerated.
        ("tra cứu hồ sơ TN-4F7K-2Q9V", "TN-4F7K-2Q9V"),
        ("tn 4f7k 2q9v", "TN-4F7K-2Q9V"),
        ("TN4F7K2Q9V nhé", "TN-4F7K-2Q9V"),
        ("hồ sơ TN-4F7K-2Q9V, mã 000.00.12.H62-261127-0004", "TN-4F7K-2Q9V"),
        ("mã 000.00.12.H62-261127-0004 (TN-4F7K-2Q9V)", "000.00.12.H62-261127-0004"),
    ],
)
def test_find_code(message: str, code: str) -> None:
    assert find_code(message) == code


@pytest.mark.parametrize(
    "message",
    [
        "0912-345-678",
        "1.001193",
        "000.00.12.H62-261327-0004",
        "ngày 15-10-2026",
        "12-261127-0004",
        "xin chào",
        "TN-4F7K-2Q9W",  # wrong check character: a typo, not another dossier
        "TN-4F7K-2Q9",
        "ATN-4F7K-2Q9V",
    ],
)
def test_find_code_ignores_other_numbers(message: str) -> None:
    assert find_code(message) is None


def test_lookup_details_only_for_the_owner(services: Services) -> None:
    with transaction(services.sessions) as s:
        dossier = make(s, "owner", vn(2026, 11, 27, 9))
        accept(s, dossier, vn(2026, 11, 27, 9, 30), appointment=date(2026, 12, 2))
        dossier.status = "supplement_requested"
        dossier.status_note = "Ảnh giấy chứng sinh bị mờ"
        dossier.supplement_items = ["Giấy chứng sinh (ảnh rõ)"]
        code, reference = dossier.official_code, dossier.code
    today = vn(2026, 11, 30, 9)
    with transaction(services.sessions) as s:
        owner = lookup(s, code.lower().replace("-", " - "), conversation_for(s, "zalo", "owner"), now=today)
        by_reference = lookup(s, reference.lower(), conversation_for(s, "zalo", "owner"), now=today)
        stranger = lookup(s, code, conversation_for(s, "zalo", "stranger"), now=today)
        other_channel = lookup(s, code, conversation_for(s, "facebook", "owner"), now=today)
        nobody = lookup(s, code, None, now=today)
        unknown = lookup(s, f"{PREFIX}-261127-0999", conversation_for(s, "zalo", "owner"), now=today)
    assert unknown is None
    assert owner is not None and owner.owner
    assert by_reference == owner and owner.code == code and owner.reference == reference
    assert owner.procedure_name == "Đăng ký khai sinh" and owner.note == "Ảnh giấy chứng sinh bị mờ"
    assert owner.supplement_items == ("Giấy chứng sinh (ảnh rõ)",)
    text = owner.replies()[0].text
    assert "Yêu cầu bổ sung" in text and "02/12/2026" in text and "ảnh rõ" in text and "bị mờ" in text
    for view in (stranger, other_channel, nobody):
        assert view is not None and not view.owner
        assert (view.status_label, view.appointment_date) == ("Yêu cầu bổ sung", date(2026, 12, 2))
        assert view.procedure_name is None and view.note is None and not view.supplement_items
        shown = view.replies()[0].text
        assert "Yêu cầu bổ sung" in shown and "02/12/2026" in shown
        assert "khai sinh" not in shown and "mờ" not in shown and "ảnh rõ" not in shown


def test_overdue_is_derived(services: Services) -> None:
    with transaction(services.sessions) as s:
        d = make(s, "late", vn(2026, 11, 27, 9))
        assert not is_overdue(d, date(2027, 1, 1)), "no promised date, nothing to be late for"
        accept(s, d, vn(2026, 11, 27, 9), appointment=date(2026, 12, 2))
        assert not is_overdue(d, date(2026, 12, 2))
        assert is_overdue(d, date(2026, 12, 3))
        for status, overdue in [
            ("processing", True),
            ("supplement_requested", True),
            ("result_ready", False),
            ("returned", False),
            ("rejected", False),
            ("withdrawn", False),
        ]:
            d.status = status
            assert is_overdue(d, date(2026, 12, 3)) is overdue
        d.status = "processing"
        code = d.code
    with transaction(services.sessions) as s:
        view = lookup(s, code, None, now=vn(2026, 12, 3, 8))
        assert view is not None and view.overdue
        shown = view.replies()[0].text
        assert "quá ngày hẹn" in shown and "xin lỗi" in shown
        assert "ngày hẹn mới" not in shown, "no new date is promised unless an officer set one"


def test_dossiers_of_lists_own_newest_first(services: Services) -> None:
    with transaction(services.sessions) as s:
        older = make(s, "me", vn(2026, 11, 26, 9))
        newer = make(s, "me", vn(2026, 11, 27, 9))
        make(s, "someone", vn(2026, 11, 27, 10))
        make(s, "me", vn(2026, 11, 27, 11), channel="facebook")
        own = dossiers_of(s, conversation_for(s, "zalo", "me"))
        assert [d.code for d in own] == [newer.code, older.code]
        listing = list_replies(own, date(2026, 11, 28))[0].text
        assert newer.code in listing and older.code in listing and "Chờ tiếp nhận" in listing
        assert "chưa thấy" in list_replies([], date(2026, 11, 28))[0].text
