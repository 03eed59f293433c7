"""Login, lock-out, session cookie flags, sessions ended by deactivation or a password reset, accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from bot.db import utcnow
from bot.models import AuditLog, StaffUser
from bot.staff import auth

from .conftest import PASSWORD, Staff, csrf_of, db, login, staff_id


def test_passwords_are_hashed_with_scrypt(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    with db(app) as session:
        user = session.query(StaffUser).one()
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash
        assert auth.verify_password(user, PASSWORD)
        assert not auth.verify_password(user, PASSWORD + "x")


def test_login_sets_a_secure_httponly_lax_cookie(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    client = app.test_client()
    resp = login(client, "canbo1")
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/staff/").status_code == 200


def test_wrong_password_is_refused_and_audited(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    client = app.test_client()
    resp = login(client, "canbo1", "sai-mat-khau-123")
    assert resp.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in resp.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    assert login(client, "khong-ton-tai", PASSWORD).status_code == 401
    with db(app) as session:
        assert [e.action for e in session.query(AuditLog)] == ["login.invalid"]


def test_repeated_failures_lock_the_account(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    client = app.test_client()
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        assert login(client, "canbo1", "sai-mat-khau-123").status_code == 401
    resp = login(client, "canbo1", "sai-mat-khau-123")
    assert "tạm khóa" in resp.get_data(as_text=True)
    # Locked: even the right password is refused.
    resp = login(client, "canbo1", PASSWORD)
    assert resp.status_code == 401 and "tạm khóa" in resp.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    with db(app) as session:
        user = session.query(StaffUser).one()
        assert user.locked_until is not None
        assert auth.authenticate(session, "canbo1", PASSWORD, utcnow()).outcome == "locked"
        later = utcnow() + auth.LOCKOUT + timedelta(seconds=1)
        assert auth.authenticate(session, "canbo1", PASSWORD, later).outcome == "ok"
        session.commit()
        assert user.failed_logins == 0 and user.locked_until is None


def test_an_expired_lock_restarts_the_count(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    now = utcnow()
    with db(app) as session:
        for _ in range(auth.MAX_FAILED_LOGINS):
            auth.authenticate(session, "canbo1", "sai-mat-khau-123", now)
        later = now + auth.LOCKOUT + timedelta(seconds=1)
        assert auth.authenticate(session, "canbo1", "sai-mat-khau-123", later).outcome == "invalid"
        session.expire_all()
        user = session.query(StaffUser).one()
        assert (user.failed_logins, user.locked_until) == (1, None)


def test_a_success_resets_the_failure_count(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    with db(app) as session:
        now = utcnow()
        for _ in range(auth.MAX_FAILED_LOGINS - 1):
            assert auth.authenticate(session, "canbo1", "sai", now).outcome == "invalid"
        assert auth.authenticate(session, "canbo1", PASSWORD, now).outcome == "ok"
        assert auth.authenticate(session, "canbo1", "sai", now).outcome == "invalid"
        session.expire_all()
        assert session.query(StaffUser).one().failed_logins == 1


def test_deactivation_ends_the_session_and_blocks_login(app: Flask, admin: Staff, officer: Staff) -> None:
    assert officer.get("/staff/").status_code == 200
    officer_id = staff_id(app, "canbo1")
    assert admin.post(f"/staff/users/{officer_id}/active", {"active": "0"}).status_code == 302
    assert officer.get("/staff/").status_code == 302
    client = app.test_client()
    resp = login(client, "canbo1")
    assert resp.status_code == 401 and "vô hiệu hóa" in resp.get_data(as_text=True)
    admin.post(f"/staff/users/{officer_id}/active", {"active": "1"})
    assert login(app.test_client(), "canbo1").status_code == 302


def test_password_reset_ends_other_sessions(app: Flask, admin: Staff, officer: Staff) -> None:
    officer_id = staff_id(app, "canbo1")
    resp = admin.post(f"/staff/users/{officer_id}/password", {"password": "mat-khau-moi-2026"})
    assert resp.status_code == 302
    assert officer.get("/staff/").status_code == 302
    assert login(app.test_client(), "canbo1").status_code == 401
    assert login(app.test_client(), "canbo1", "mat-khau-moi-2026").status_code == 302


def test_admin_creates_accounts_with_checks(app: Flask, admin: Staff) -> None:
    admin.post("/staff/users", {"username": "CanBo.Moi", "password": "mat-khau-dai-du", "role": "officer"})
    assert login(app.test_client(), "canbo.moi", "mat-khau-dai-du").status_code == 302
    for bad in (
        {"username": "canbo.moi", "password": "mat-khau-dai-du", "role": "officer"},  # taken
        {"username": "ab cd", "password": "mat-khau-dai-du", "role": "officer"},
        {"username": "ngan", "password": "ngan", "role": "officer"},
        {"username": "vaitro", "password": "mat-khau-dai-du", "role": "root"},
    ):
        page = admin.post("/staff/users", bad, follow_redirects=True).get_data(as_text=True)
        assert 'class="flash error"' in page
    with db(app) as session:
        assert session.query(StaffUser).count() == 2
        actions = [e.action for e in session.query(AuditLog).order_by(AuditLog.id)]
        assert actions.count("user.create") == 1


def test_admin_cannot_deactivate_themselves(app: Flask, admin: Staff) -> None:
    own = staff_id(app, "quantri")
    page = admin.post(f"/staff/users/{own}/active", {"active": "0"}, follow_redirects=True)
    assert "Không thể tự vô hiệu hóa" in page.get_data(as_text=True)
    assert admin.get("/staff/").status_code == 200


def test_logout_ends_the_session(officer: Staff) -> None:
    assert officer.post("/staff/logout").status_code == 302
    assert officer.get("/staff/").status_code == 302


def test_login_page_renders_for_anonymous_users(app: Flask) -> None:
    client = app.test_client()
    assert csrf_of(client)
    assert client.get("/staff/").headers["Location"].startswith("/staff/login")


@pytest.mark.parametrize("name", ["a", "x" * 61, "tên-có-dấu", "a b", "a/b"])
def test_bad_usernames_are_refused(name: str) -> None:
    with pytest.raises(auth.AccountError):
        auth.normalise_username(name)
