"""`motcua staff add`, and the handoff notice the dialogue sends inside and outside opening hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.agency import Agency
from bot.cli import main
from bot.db import make_engine, make_session_factory
from bot.handoff import REASONS, handoff_notice
from bot.models import AuditLog, StaffUser
from bot.staff import auth


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def _users(db_url: str) -> list[StaffUser]:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(StaffUser)))
    finally:
        engine.dispose()


def test_staff_add_reads_the_password_from_stdin(cli_db: str) -> None:
    result = CliRunner().invoke(
        main, ["staff", "add", "QuanTri", "--role", "admin"], input="mat-khau-quan-tri\n"
    )
    assert result.exit_code == 0, result.output
    assert "created admin quantri" in result.output
    (user,) = _users(cli_db)
    assert (user.username, user.role, user.active) == ("quantri", "admin", True)
    assert auth.verify_password(user, "mat-khau-quan-tri")
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        assert [(e.actor, e.action) for e in session.scalars(select(AuditLog))] == [("cli", "user.create")]
    engine.dispose()


def test_staff_add_refuses_weak_passwords_duplicates_and_bad_roles(cli_db: str) -> None:
    runner = CliRunner()
    short = runner.invoke(main, ["staff", "add", "canbo"], input="ngan\n")
    assert short.exit_code != 0 and "ít nhất 10" in short.output
    assert runner.invoke(main, ["staff", "add", "canbo"], input="mat-khau-can-bo\n").exit_code == 0
    again = runner.invoke(main, ["staff", "add", "canbo"], input="mat-khau-can-bo\n")
    assert again.exit_code != 0 and "đã tồn tại" in again.output
    assert (
        runner.invoke(main, ["staff", "add", "x2", "--role", "root"], input="mat-khau-can-bo\n").exit_code
        != 0
    )
    assert [u.username for u in _users(cli_db)] == ["canbo"]


AGENCY = Path(__file__).resolve().parents[2] / "data" / "agency.yml"


def test_handoff_notice_inside_opening_hours() -> None:
    agency = Agency.load(AGENCY)
    monday_morning = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 Monday in Hà Nội
    assert agency.is_open(monday_morning)
    reply = handoff_notice(agency, monday_morning)
    assert reply.kind == "text" and "trả lời ngay" in reply.text


def test_handoff_notice_says_why_for_each_reason() -> None:
    agency = Agency.load(AGENCY)
    monday_morning = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    why = {
        "complaint": "ghi nhận ý kiến",
        "not_understood": "chưa hiểu",
        "invalid_answers": "hoàn thành hồ sơ",
    }
    for reason in REASONS:
        reply = handoff_notice(agency, monday_morning, reason)
        assert why.get(reason, "chuyển cuộc trò chuyện") in reply.text and "trả lời ngay" in reply.text
    with pytest.raises(ValueError):
        handoff_notice(agency, monday_morning, "boredom")


def test_handoff_notice_outside_hours_says_when_an_officer_answers() -> None:
    agency = Agency.load(AGENCY)
    saturday_night = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # 21:00 Saturday in Hà Nội
    assert not agency.is_open(saturday_night)
    opening = agency.next_opening(saturday_night).astimezone(agency.timezone)
    reply = handoff_notice(agency, saturday_night)
    assert "ngoài giờ làm việc" in reply.text
    assert f"{opening:%H:%M}" in reply.text and f"{opening:%d/%m/%Y}" in reply.text
    weekday = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"][opening.weekday()]
    assert weekday in reply.text
    assert len(reply.text) < 2000
