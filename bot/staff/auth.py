"""Officer accounts: password hashing, login with lock-out, the session and CSRF tokens.

Passwords are hashed with scrypt (werkzeug); the hash string names its algorithm so it can be upgraded.
A signed-in browser is a `staff_session` row: the cookie holds a random token, the database its hash, and
every request looks the row up, so deleting it (logout, a password change, a deactivation, an admin's
"sign out everywhere") ends that session even for a copied cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session as cookie
from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.db import UTCDateTime, utcnow
from bot.models.staff import ROLES, StaffSession, StaffUser

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
SESSION_LIFETIME = timedelta(hours=10)
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "staff_session"  # the cookie entry holding this browser's session token

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


def set_password(session: Session, user: StaffUser, password: str) -> None:
    """A new password ends every session of the user (whoever knew the old one is signed out)."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    end_all_sessions(session, user)


def _claim_attempt(session: Session, user: StaffUser, now: datetime) -> bool:
    """Count one login attempt in a single conditional UPDATE, before the password is checked.

    The row is read and written in one statement, so parallel attempts cannot all see the same count: the
    one that reaches MAX_FAILED_LOGINS sets the lock, and later ones match no row until it expires (the
    count then restarts). False means the account is locked and the password must not be checked.
    """
    count = case((StaffUser.locked_until.is_(None), StaffUser.failed_logins + 1), else_=1)
    claimed = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now))
        .values(
            failed_logins=count,
            locked_until=case((count >= MAX_FAILED_LOGINS, literal(now + LOCKOUT, UTCDateTime)), else_=None),
        )
        .returning(StaffUser.id)
        .execution_options(synchronize_session="fetch")
    ).first()
    return claimed is not None


def check_password(session: Session, user: StaffUser, password: str, now: datetime) -> str:
    """The password of an account under the lock-out: ok | invalid | locked. MAX_FAILED_LOGINS attempts
    without a success lock the account for LOCKOUT, during which even the right password is refused.

    The attempt is counted and COMMITTED (the caller's session) before the slow password hash runs, so
    parallel guesses see each other and at most MAX_FAILED_LOGINS passwords are checked per lock period.
    A success resets the count (the caller commits that, with its audit entry).
    """
    claimed = _claim_attempt(session, user, now)
    session.commit()
    if not claimed:
        return "locked"
    if not verify_password(user, password):
        return "invalid" if user.locked_until is None else "locked"
    user.failed_logins = 0
    user.locked_until = None
    return "ok"


def authenticate(session: Session, username: str, password: str, now: datetime) -> LoginResult:
    """Check a login (see check_password; the caller's session is committed before the hash runs)."""
    user = find_user(session, username) if username.strip() else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return LoginResult(None, "invalid")
    outcome = check_password(session, user, password, now)
    if outcome == "ok" and not user.active:
        return LoginResult(user, "inactive")
    if outcome == "ok":
        user.last_login_at = now
    return LoginResult(user, outcome)


def change_own_password(session: Session, user: StaffUser, current: str, new: str, now: datetime) -> str:
    """An officer's own password change: check_password's outcome for `current`; on "ok" the password is
    replaced and every session of the user ended (the caller starts a fresh one for this browser).
    AccountError for an unacceptable new password, before any attempt is counted."""
    check_new_password(new)
    outcome = check_password(session, user, current, now)
    if outcome == "ok":
        set_password(session, user, new)
    return outcome


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: StaffUser) -> None:
    """A fresh cookie session (no fixation: the old contents are dropped) with a new CSRF token, backed by a
    new session row the caller commits. The user's expired rows are removed on the way."""
    now = utcnow()
    session.execute(
        delete(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            staff_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=now + SESSION_LIFETIME
        )
    )
    cookie.clear()
    cookie.permanent = True
    cookie[SESSION_KEY] = token
    cookie["csrf"] = secrets.token_urlsafe(32)


def end_session(session: Session) -> None:
    """Log this browser out: its session row goes (a copy of the cookie stops working), then the cookie."""
    token = cookie.get(SESSION_KEY)
    if isinstance(token, str):
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
    cookie.clear()


def end_all_sessions(session: Session, user: StaffUser) -> int:
    """Sign the user out everywhere; the number of sessions ended. The caller commits."""
    ended = session.execute(delete(StaffSession).where(StaffSession.staff_id == user.id))
    return int(getattr(ended, "rowcount", 0) or 0)


def open_sessions(session: Session) -> dict[int, int]:
    """Unexpired sessions per staff id, for the accounts page."""
    rows = session.execute(
        select(StaffSession.staff_id, func.count())
        .where(StaffSession.expires_at > utcnow())
        .group_by(StaffSession.staff_id)
    )
    return {staff_id: count for staff_id, count in rows}


def session_user(session: Session) -> StaffUser | None:
    """The officer of this request's cookie, if its session row still exists, is unexpired and the account
    is active."""
    token = cookie.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    return session.scalars(
        select(StaffUser)
        .join(StaffSession, StaffSession.staff_id == StaffUser.id)
        .where(
            StaffSession.token_hash == _token_hash(token),
            StaffSession.expires_at > utcnow(),
            StaffUser.active,
        )
    ).first()


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
