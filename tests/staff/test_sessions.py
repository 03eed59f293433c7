"""Sessions end on the server: a copied cookie stops working after logout, a password change, a
deactivation or an admin's "sign out everywhere"; parallel password guesses cannot get past the lock-out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from bot.cli import main
from bot.db import utcnow
from bot.models import AuditLog, StaffSession, StaffUser
from bot.staff import auth

from .conftest import PASSWORD, Staff, csrf_of, db, login, staff_id


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (as a thief would)."""
    name = app.config["SESSION_COOKIE_NAME"]
    stolen = client.get_cookie(name)
    assert stolen is not None
    other = app.test_client()
    other.set_cookie(name, stolen.value)
    return other


def signed_in(client: FlaskClient) -> bool:
    """True when the console page answers; False when the request is sent to the login page."""
    status = client.get("/staff/").status_code
    assert status in (200, 302)
    return status == 200


def test_a_copied_cookie_is_refused_after_logout(app: Flask, officer: Staff) -> None:
    thief = copy_of(app, officer.client)
    assert signed_in(thief)
    assert officer.post("/staff/logout").status_code == 302
    assert not signed_in(thief)
    assert thief.get("/staff/queue.json").status_code == 401
    with db(app) as session:
        assert session.query(StaffSession).count() == 0


def test_logout_ends_only_that_browser(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("canbo1")
    office, home = app.test_client(), app.test_client()
    assert login(office, "canbo1").status_code == 302
    assert login(home, "canbo1").status_code == 302
    Staff(office).post("/staff/logout")
    assert not signed_in(office)
    assert signed_in(home)


def test_the_database_keeps_only_a_hash_of_the_session_token(app: Flask, officer: Staff) -> None:
    with officer.client.session_transaction() as sess:
        token = sess[auth.SESSION_KEY]
    with db(app) as session:
        row = session.query(StaffSession).one()
        assert token not in row.token_hash and len(row.token_hash) == 64
        assert row.expires_at - row.created_at == auth.SESSION_LIFETIME


def test_an_expired_session_row_is_refused(app: Flask, officer: Staff) -> None:
    assert signed_in(officer.client)
    with db(app) as session:
        session.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert not signed_in(officer.client)


def test_a_password_reset_refuses_the_copied_cookie(app: Flask, admin: Staff, officer: Staff) -> None:
    thief = copy_of(app, officer.client)
    admin.post(f"/staff/users/{staff_id(app, 'canbo1')}/password", {"password": "mat-khau-moi-2026"})
    assert not signed_in(thief)
    assert not signed_in(officer.client)
    assert signed_in(admin.client)


def test_an_admin_changing_their_own_password_ends_their_other_sessions(app: Flask, admin: Staff) -> None:
    other_browser = app.test_client()
    assert login(other_browser, "quantri").status_code == 302
    thief = copy_of(app, admin.client)
    page = admin.post(
        f"/staff/users/{staff_id(app, 'quantri')}/password",
        {"password": "mat-khau-moi-2026"},
        follow_redirects=True,
    )
    assert "Mọi phiên đăng nhập của tài khoản này đã kết thúc" in page.get_data(as_text=True)
    assert not signed_in(other_browser)
    assert not signed_in(thief)
    # The browser that made the change carries on with a fresh session.
    assert signed_in(admin.client)


def test_deactivation_deletes_the_sessions(app: Flask, admin: Staff, officer: Staff) -> None:
    officer_id = staff_id(app, "canbo1")
    admin.post(f"/staff/users/{officer_id}/active", {"active": "0"})
    with db(app) as session:
        assert session.query(StaffSession).filter_by(staff_id=officer_id).count() == 0
    admin.post(f"/staff/users/{officer_id}/active", {"active": "1"})
    assert not signed_in(officer.client)


def test_admin_signs_an_account_out_everywhere(app: Flask, admin: Staff, officer: Staff) -> None:
    officer_id = staff_id(app, "canbo1")
    phone = app.test_client()
    assert login(phone, "canbo1").status_code == 302
    thief = copy_of(app, officer.client)
    with db(app) as session:
        assert auth.open_sessions(session) == {officer_id: 2, staff_id(app, "quantri"): 1}
    page = admin.get("/staff/users").get_data(as_text=True)
    assert "Đăng xuất khỏi mọi thiết bị" in page
    assert f'action="/staff/users/{officer_id}/sign-out"' in page

    page = admin.post(f"/staff/users/{officer_id}/sign-out", follow_redirects=True).get_data(as_text=True)
    assert "Đã đăng xuất canbo1 khỏi mọi thiết bị (2 phiên)." in page
    assert not signed_in(officer.client)
    assert not signed_in(phone)
    assert not signed_in(thief)
    assert signed_in(admin.client)
    # The password still works: the officer simply signs in again.
    assert login(app.test_client(), "canbo1").status_code == 302
    with db(app) as session:
        entry = session.query(AuditLog).filter_by(action="user.sign_out_all").one()
        assert (entry.staff_id, entry.object_type, entry.object_id) == (
            staff_id(app, "quantri"),
            "staff_user",
            str(officer_id),
        )
        assert entry.detail == "2 sessions"


def test_only_admins_sign_others_out(app: Flask, admin: Staff, officer: Staff) -> None:
    admin_id = staff_id(app, "quantri")
    assert officer.post(f"/staff/users/{admin_id}/sign-out").status_code == 403
    assert signed_in(admin.client)
    # Without the CSRF token the request is refused before anything happens.
    assert admin.client.post(f"/staff/users/{staff_id(app, 'canbo1')}/sign-out").status_code == 400
    assert signed_in(officer.client)


NEW_PASSWORD = "mat-khau-moi-2026"


def change_password(staff: Staff, current: str, new: str = NEW_PASSWORD, again: str | None = None) -> Any:
    form = {"password": current, "new_password": new, "new_password_again": new if again is None else again}
    return staff.post("/staff/password", form, follow_redirects=True)


def test_changing_ones_own_password_ends_the_other_sessions(app: Flask, officer: Staff) -> None:
    phone = app.test_client()
    assert login(phone, "canbo1").status_code == 302
    thief = copy_of(app, officer.client)
    assert "Đổi mật khẩu" in officer.get("/staff/password").get_data(as_text=True)

    page = change_password(officer, PASSWORD).get_data(as_text=True)
    assert "Đã đổi mật khẩu. Mọi phiên đăng nhập khác của tài khoản đã kết thúc." in page
    assert not signed_in(phone)
    assert not signed_in(thief)
    assert signed_in(officer.client)
    assert login(app.test_client(), "canbo1").status_code == 401
    assert login(app.test_client(), "canbo1", NEW_PASSWORD).status_code == 302
    with db(app) as session:
        actions = [e.action for e in session.query(AuditLog).filter_by(object_type="staff_user")]
        assert "user.password_change" in actions


def test_a_password_change_needs_the_current_password_under_the_lock_out(app: Flask, officer: Staff) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        resp = change_password(officer, "doan-mo-mat-khau")
        assert resp.status_code == 400 and "Mật khẩu hiện tại không đúng." in resp.get_data(as_text=True)
    resp = change_password(officer, "doan-mo-mat-khau")
    assert (
        "Tài khoản tạm khóa do nhập sai mật khẩu nhiều lần. Vui lòng thử lại sau 15 phút."
        in resp.get_data(as_text=True)
    )
    # Locked: the right current password is refused as well, and nothing changed.
    assert change_password(officer, PASSWORD).status_code == 400
    with db(app) as session:
        assert auth.verify_password(session.query(StaffUser).one(), PASSWORD)
        actions = [e.action for e in session.query(AuditLog)]
        assert actions.count("password_change.invalid") == auth.MAX_FAILED_LOGINS - 1
        assert "user.password_change" not in actions


def test_a_mistyped_or_weak_new_password_costs_no_attempt(app: Flask, officer: Staff) -> None:
    resp = change_password(officer, PASSWORD, again=NEW_PASSWORD + "x")
    assert resp.status_code == 400 and "Hai lần nhập mật khẩu mới không khớp nhau." in resp.get_data(
        as_text=True
    )
    resp = change_password(officer, PASSWORD, new="ngan")
    assert resp.status_code == 400 and "ít nhất 10 ký tự" in resp.get_data(as_text=True)
    with db(app) as session:
        user = session.query(StaffUser).one()
        assert user.failed_logins == 0 and auth.verify_password(user, PASSWORD)
    assert signed_in(officer.client)


def test_the_cli_sets_a_password_lifts_the_lock_and_ends_sessions(
    app: Flask, db_url: str, officer: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS):
        login(app.test_client(), "canbo1", "sai-mat-khau-123")
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["staff", "password", "CanBo1"], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "password set for canbo1; its sessions have ended" in result.output
    assert not signed_in(officer.client)
    assert login(app.test_client(), "canbo1", NEW_PASSWORD).status_code == 302
    with db(app) as session:
        entry = session.query(AuditLog).filter_by(action="user.password_reset").one()
        assert (entry.actor, entry.object_id) == ("cli", str(staff_id(app, "canbo1")))
    unknown = CliRunner().invoke(main, ["staff", "password", "khong-co"], input=NEW_PASSWORD + "\n")
    assert unknown.exit_code != 0 and "Không có tài khoản khong-co." in unknown.output


GUESSERS = 40


def test_parallel_guesses_check_no_more_passwords_than_the_limit(
    app: Flask, make_user: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 browsers from 40 addresses guess at once: the lock-out must hold after MAX_FAILED_LOGINS checks.

    Each password check is counted and made slower, so that without an atomic count every guesser would read
    the account as unlocked before any of them had written a failure.
    """
    make_user("canbo1")
    real_check = auth.check_password_hash
    checked: list[str] = []
    guard = threading.Lock()

    def counting_check(pwhash: str, password: str) -> bool:
        if pwhash != auth._DUMMY_HASH:
            with guard:
                checked.append(password)
        threading.Event().wait(0.05)
        return real_check(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", counting_check)
    clients = [app.test_client() for _ in range(GUESSERS)]
    tokens = [csrf_of(client) for client in clients]
    start = threading.Barrier(GUESSERS)
    statuses: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        resp = clients[i].post(
            "/staff/login",
            data={"username": "canbo1", "password": f"sai-mat-khau-{i:03d}", "csrf_token": tokens[i]},
            environ_base={"REMOTE_ADDR": f"10.0.{i // 200}.{i % 200 + 1}"},
        )
        with guard:
            statuses.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == GUESSERS and 200 not in statuses and 302 not in statuses
    assert len(checked) <= auth.MAX_FAILED_LOGINS, f"{len(checked)} passwords checked"
    # The lock holds against the right password too, and that attempt checks no password.
    checked.clear()
    resp = login(app.test_client(), "canbo1", PASSWORD)
    assert resp.status_code == 401 and "tạm khóa" in resp.get_data(as_text=True)
    assert checked == []
    with db(app) as session:
        user = session.query(StaffUser).one()
        assert user.locked_until is not None and user.locked_until > utcnow()
