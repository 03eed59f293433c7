"""Undeliverable messages, and for admins the audit log and officer accounts."""

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
    rows = db().scalars(select(StaffUser).order_by(StaffUser.username)).all()
    return render_template("staff/users.html", rows=rows, roles=ROLES, now_utc=utcnow())


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
    flash(f"Đã tạo tài khoản {user.username}.", "ok")
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int) -> Response:
    _admin_only()
    session = db()
    user = get_or_404(StaffUser, user_id)
    active = request.form.get("active") == "1"
    if user.id == me().id and not active:
        flash("Không thể tự vô hiệu hóa tài khoản của mình.", "error")
        return redirect(url_for("staff.users"))
    user.active = active
    if active:
        user.failed_logins = 0
        user.locked_until = None
    audit.record(session, me(), "user.activate" if active else "user.deactivate", "staff_user", user.id)
    session.commit()
    return redirect(url_for("staff.users"))


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int) -> Response:
    _admin_only()
    session = db()
    user = get_or_404(StaffUser, user_id)
    try:
        auth.set_password(user, request.form.get("password", ""))
    except auth.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("staff.users"))
    audit.record(session, me(), "user.password_reset", "staff_user", user.id)
    session.commit()
    if user.id == me().id:
        auth.start_session(user)
    flash(f"Đã đặt lại mật khẩu cho {user.username}.", "ok")
    return redirect(url_for("staff.users"))
