"""Undeliverable messages, each officer's own password, and for admins the audit log and officer accounts."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from bot.db import utcnow
from bot.models import Conversation, OutboxMessage, StaffUser
from bot.models.staff import ROLES
from bot.numbers import query_int
from bot.staff import audit, auth
from bot.staff.views import bp, db, get_or_404, me
from bot.templates import text

# ---------------------------------------------------------------- undeliverable messages


@bp.get("/outbox")
def outbox() -> str:
    session = db()
    rows = session.execute(
        select(OutboxMessage, Conversation)
        .join(Conversation, Conversation.id == OutboxMessage.conversation_id)
        .where(OutboxMessage.status.in_(("failed", "held")))
        .order_by(OutboxMessage.created_at.desc())
        .limit(200)
    ).all()
    return render_template("staff/outbox.html", rows=rows)


@bp.post("/outbox/<int:row_id>/retry")
def outbox_retry(row_id: int) -> Response:
    session = db()
    row = get_or_404(OutboxMessage, row_id)
    if row.status in ("failed", "held"):
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = utcnow()
        row.error = None
        audit.record(session, me(), "outbox.retry", "outbox_message", row.id)
        session.commit()
        flash("Đã đưa tin nhắn vào hàng gửi lại.", "ok")
    return redirect(url_for("staff.outbox"))


@bp.post("/outbox/<int:row_id>/handled")
def outbox_handled(row_id: int) -> Response:
    session = db()
    row = get_or_404(OutboxMessage, row_id)
    if row.status in ("failed", "held"):
        row.status = "handled"
        audit.record(session, me(), "outbox.handled", "outbox_message", row.id)
        session.commit()
        flash("Đã đánh dấu là đã xử lý.", "ok")
    return redirect(url_for("staff.outbox"))


# ---------------------------------------------------------------- an officer's own password


@bp.route("/password", methods=["GET", "POST"])
def own_password() -> Response | str | tuple[str, int]:
    """Change one's own password: the current one is checked under the login lock-out (a borrowed session
    cannot guess it), and every other session of the account ends."""
    if request.method == "GET":
        return render_template("staff/password.html")
    session = db()
    user = me()
    new = request.form.get("new_password", "")[:300]
    if new != request.form.get("new_password_again", "")[:300]:
        flash(text("staff.password_mismatch"), "error")
        return render_template("staff/password.html"), 400
    try:
        outcome = auth.change_own_password(
            session, user, request.form.get("password", "")[:200], new, utcnow()
        )
    except auth.AccountError as exc:
        flash(str(exc), "error")
        return render_template("staff/password.html"), 400
    if outcome != "ok":
        audit.record(session, user, f"password_change.{outcome}", "staff_user", user.id)
        session.commit()
        key = "staff.password_locked" if outcome == "locked" else "staff.password_wrong_current"
        flash(text(key, minutes=int(auth.LOCKOUT.total_seconds() // 60)), "error")
        return render_template("staff/password.html"), 400
    audit.record(session, user, "user.password_change", "staff_user", user.id)
    auth.start_session(session, user)
    session.commit()
    flash(text("staff.password_changed"), "ok")
    return redirect(url_for("staff.queue"))


# ---------------------------------------------------------------- admin: audit log, accounts


def _admin_only() -> None:
    if not me().is_admin:
        abort(403)


@bp.get("/audit")
def audit_log() -> str:
    _admin_only()
    session = db()
    args = request.args
    staff_id = query_int(args, "staff", 0, low=1) or None
    entries = audit.recent(
        session,
        object_type=args.get("type") or None,
        object_id=args.get("id") or None,
        staff_id=staff_id,
        limit=300,
    )
    users = session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("staff/audit.html", entries=entries, users=users, args=args)


@bp.get("/users")
def users() -> str:
    _admin_only()
    session = db()
    rows = session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    return render_template(
        "staff/users.html", rows=rows, roles=ROLES, now_utc=utcnow(), sessions=auth.open_sessions(session)
    )


@bp.post("/users")
def user_create() -> Response:
    _admin_only()
    session = db()
    try:
        user = auth.create_user(
            session,
            request.form.get("username", ""),
            request.form.get("password", ""),
            request.form.get("role", "officer"),
        )
    except auth.AccountError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.users"))
    audit.record(session, me(), "user.create", "staff_user", user.id, f"role {user.role}")
    session.commit()
    flash(text("staff.account_created", username=user.username), "ok")
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int) -> Response:
    _admin_only()
    session = db()
    user = get_or_404(StaffUser, user_id)
    active = request.form.get("active") == "1"
    if user.id == me().id and not active:
        flash(text("staff.account_cannot_deactivate_self"), "error")
        return redirect(url_for("staff.users"))
    user.active = active
    if active:
        user.failed_logins = 0
        user.locked_until = None
    else:
        auth.end_all_sessions(session, user)
    audit.record(session, me(), "user.activate" if active else "user.deactivate", "staff_user", user.id)
    session.commit()
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int) -> Response:
    _admin_only()
    session = db()
    user = get_or_404(StaffUser, user_id)
    try:
        auth.set_password(session, user, request.form.get("password", ""))
    except auth.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("staff.users"))
    audit.record(session, me(), "user.password_reset", "staff_user", user.id)
    if user.id == me().id:  # the admin's own sessions ended too; this browser gets a fresh one
        auth.start_session(session, user)
    session.commit()
    flash(text("staff.account_password_reset", username=user.username), "ok")
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/sign-out")
def user_sign_out(user_id: int) -> Response:
    """End every session of an account (a lost phone, a shared computer), without changing its password."""
    _admin_only()
    session = db()
    user = get_or_404(StaffUser, user_id)
    ended = auth.end_all_sessions(session, user)
    audit.record(session, me(), "user.sign_out_all", "staff_user", user.id, f"{ended} sessions")
    session.commit()
    flash(text("staff.account_signed_out", username=user.username, count=ended), "ok")
    return redirect(url_for("staff.users"))
