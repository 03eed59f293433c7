"""Officer accounts: password hashing, login with lock-out, the session and CSRF tokens.

Passwords are hashed with scrypt (werkzeug); the hash string names its algorithm so it can be upgraded.
A session remembers the officer id and a fingerprint of the password hash, so a password reset or a
deactivation ends every open session at its next request.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session as cookie
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.models.staff import ROLES, StaffUser

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
SESSION_LIFETIME = timedelta(hours=10)
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

# Checked against when the username is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8), method="scrypt")


class AccountError(ValueError):
    """A username, role or password that cannot be accepted; the message is shown to the admin."""


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    outcome: str  # ok | invalid | locked | inactive


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(user: StaffUser, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    if len(password) > 200:
        raise AccountError("Mật khẩu quá dài (tối đa 200 ký tự).")


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not (2 <= len(name) <= 60) or not set(name) <= USERNAME_CHARS:
        raise AccountError(
            "Tên đăng nhập gồm 2–60 ký tự: chữ thường không dấu, số, dấu chấm, gạch dưới, gạch ngang."
        )
    return name


def find_user(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()


def create_user(session: Session, username: str, password: str, role: str) -> StaffUser:
    """A new active account; AccountError for a taken name, an unknown role or a weak password."""
    name = normalise_username(username)
    if role not in ROLES:
        raise AccountError(f"Vai trò không hợp lệ: {role}.")
    check_new_password(password)
    taken = session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.username == name))
    if taken:
        raise AccountError(f"Tên đăng nhập {name} đã tồn tại.")
    user = StaffUser(
        username=name, password_hash=hash_password(password), role=role, active=True, failed_logins=0
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: StaffUser, password: str) -> None:
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def authenticate(session: Session, username: str, password: str, now: datetime) -> LoginResult:
    """Check a login; repeated failures lock the account for LOCKOUT, even against the right password."""
    user = find_user(session, username) if username.strip() else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return LoginResult(None, "invalid")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(user, "locked")
    if not verify_password(user, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            return LoginResult(user, "locked")
        return LoginResult(user, "invalid")
    if not user.active:
        return LoginResult(user, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return LoginResult(user, "ok")


def _fingerprint(user: StaffUser) -> str:
    return user.password_hash[-16:]


def start_session(user: StaffUser) -> None:
    """A fresh cookie session (no fixation: the old contents are dropped) with a new CSRF token."""
    cookie.clear()
    cookie.permanent = True
    cookie["staff_id"] = user.id
    cookie["staff_fp"] = _fingerprint(user)
    cookie["csrf"] = secrets.token_urlsafe(32)


def end_session() -> None:
    cookie.clear()


def session_user(session: Session) -> StaffUser | None:
    """The officer of this request's cookie, if still active and with an unchanged password."""
    staff_id = cookie.get("staff_id")
    if not isinstance(staff_id, int):
        return None
    user = session.get(StaffUser, staff_id)
    if (
        user is None
        or not user.active
        or not hmac.compare_digest(cookie.get("staff_fp", ""), _fingerprint(user))
    ):
        return None
    return user


def csrf_token() -> str:
    """The token every form and state-changing request of this session must carry."""
    token = cookie.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        cookie["csrf"] = token
    return str(token)


def csrf_valid(submitted: str | None) -> bool:
    expected = cookie.get("csrf")
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))
