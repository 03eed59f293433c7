"""Escalations: the queue of citizens waiting for an officer, claiming, the transcript, replies, hand-back."""

from __future__ import annotations

from typing import Any

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from bot import handoff as owner
from bot.db import utcnow
from bot.dossier import dossiers_of
from bot.insight import satisfaction
from bot.messages import Reply
from bot.models import Conversation, Message, OutboxMessage, StaffUser
from bot.numbers import query_int
from bot.staff import audit, files
from bot.staff.views import app_settings, bp, db, get_or_404, localtime, me, wants_json
from bot.templates import text

MAX_REPLY = 1900


# ---------------------------------------------------------------- escalations


@bp.get("/")
def queue() -> str:
    session = db()
    waiting = session.scalars(
        select(Conversation)
        .where(Conversation.mode == "waiting_human")
        .order_by(Conversation.handoff_since.asc().nulls_last(), Conversation.id)
    ).all()
    owned = session.scalars(
        select(Conversation)
        .where(Conversation.mode == "human")
        .order_by(Conversation.handoff_since, Conversation.id)
    ).all()
    # Paused: someone answers on the platform itself (Zalo OA admin, Page Inbox); an officer may hand back.
    paused = session.scalars(
        select(Conversation).where(Conversation.mode == "paused").order_by(Conversation.handoff_since)
    ).all()
    names = _usernames(session, {c.assigned_staff_id for c in owned if c.assigned_staff_id})
    return render_template("staff/queue.html", waiting=waiting, owned=owned, paused=paused, names=names)


@bp.get("/queue.json")
def queue_json() -> Response:
    """Number of conversations waiting, for the badge that refreshes without reloading."""
    waiting = db().scalar(
        select(func.count()).select_from(Conversation).where(Conversation.mode == "waiting_human")
    )
    return jsonify(waiting=waiting or 0)


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids))).all())


def _conversation(conv_id: int) -> Conversation:
    return get_or_404(Conversation, conv_id)


def message_json(msg: Message) -> dict[str, Any]:
    body = msg.body or {}
    attachments = [
        {"kind": a.get("kind"), "name": a.get("name"), "url": a.get("url")}
        for a in body.get("attachments") or ()
    ]
    if body.get("url"):
        attachments.append({"kind": body.get("kind"), "name": body.get("name"), "url": body.get("url")})
    buttons = [b.get("title") for b in body.get("buttons") or ()]
    return {
        "id": msg.id,
        "direction": msg.direction,
        "author": msg.author,
        "text": msg.text,
        "at": localtime(msg.created_at, "%d/%m %H:%M"),
        "attachments": attachments,
        "buttons": buttons,
    }


@bp.get("/conversations/<int:conv_id>")
def conversation(conv_id: int) -> str:
    session = db()
    conv = _conversation(conv_id)
    messages = session.scalars(
        select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)
    ).all()
    dossiers = dossiers_of(session, conv)
    owner = session.get(StaffUser, conv.assigned_staff_id) if conv.assigned_staff_id else None
    last_sent = session.scalars(
        select(OutboxMessage).where(OutboxMessage.conversation_id == conv.id, OutboxMessage.status == "sent")
        .order_by(OutboxMessage.id.desc()).limit(1)
    ).first()
    audit.record(session, me(), "conversation.view", "conversation", conv.id)
    session.commit()
    return render_template(
        "staff/conversation.html",
        conv=conv,
        messages=[message_json(m) for m in messages],
        dossiers=dossiers,
        owner=owner,
        mine=_owns(conv),
        profile=profile_fields(conv.profile),
        delivery=delivery_state(last_sent),
    )


def delivery_state(item: OutboxMessage | None) -> str:
    """How far our last sent message got, from the platform's receipts (bot/pipeline/receipts.py)."""
    if item is None:
        return ""
    if item.seen_at:
        return f"đã xem lúc {localtime(item.seen_at, '%H:%M %d/%m')}"
    if item.delivered_at:
        return f"đã đến máy lúc {localtime(item.delivered_at, '%H:%M %d/%m')}"
    return f"đã gửi lúc {localtime(item.sent_at, '%H:%M %d/%m')}"


# What the bot remembers for a citizen's next dossier (flows.kinds.submit.REMEMBERED), as officers read it.
PROFILE_LABELS = {"applicant_name": "Họ và tên", "applicant_id_number": "Số định danh cá nhân",
                  "phone": "Số điện thoại"}


def profile_fields(profile: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of the remembered details; the stored value is {"display": ...}."""
    pairs = []
    for key, value in (profile or {}).items():
        shown = value.get("display") if isinstance(value, dict) else value
        pairs.append((PROFILE_LABELS.get(key, key), "" if shown is None else str(shown)))
    return pairs


@bp.get("/conversations/<int:conv_id>/messages.json")
def conversation_messages(conv_id: int) -> Response:
    """Messages after `after` (a message id): the page polls this so new messages appear without reloading."""
    session = db()
    conv = _conversation(conv_id)
    after_id = query_int(request.args, "after", 0)
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.id > after_id)
        .order_by(Message.id)
        .limit(200)
    ).all()
    return jsonify(
        mode=conv.mode, assigned_staff_id=conv.assigned_staff_id, messages=[message_json(m) for m in rows]
    )


def _owns(conv: Conversation) -> bool:
    return conv.mode == "human" and conv.assigned_staff_id == me().id


@bp.post("/conversations/<int:conv_id>/claim")
def claim(conv_id: int) -> Response:
    session = db()
    conv = _conversation(conv_id)
    taken_by_other = conv.mode == "human" and conv.assigned_staff_id not in (None, me().id)
    if taken_by_other and not me().is_admin:
        flash("Cuộc trò chuyện đã có cán bộ khác nhận.", "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    previous = owner.claim(conv, me().id, utcnow())
    audit.record(session, me(), "conversation.claim", "conversation", conv.id, f"from {previous}")
    session.commit()
    flash("Anh/Chị đã nhận cuộc trò chuyện; trợ lý tự động tạm dừng.", "ok")
    return redirect(url_for("staff.conversation", conv_id=conv.id))


@bp.post("/conversations/<int:conv_id>/reply")
def reply(conv_id: int) -> Response:
    session = db()
    conv = _conversation(conv_id)
    if not _owns(conv):
        flash("Cần nhận cuộc trò chuyện trước khi trả lời.", "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    body = (request.form.get("text") or "").strip()
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    if not body and not uploads:
        flash("Chưa có nội dung để gửi.", "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    if len(body) > MAX_REPLY:
        flash(f"Tin nhắn tối đa {MAX_REPLY} ký tự.", "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    from bot.transcript import enqueue

    settings = app_settings()
    replies: list[Reply] = []
    try:
        for upload in uploads[:5]:
            stored = files.store_upload(session, settings, upload.read(settings.max_upload_bytes + 1), conv)
            url = files.outgoing_url(
                settings, current_app.secret_key or "", stored.storage_name, request.url_root
            )
            kind = "image" if stored.content_type.startswith("image/") else "file"
            name = (upload.filename or stored.storage_name)[-100:]
            replies.append(Reply(kind=kind, url=url, name=name, author="staff"))
    except files.UploadRejected as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    if body:
        replies.insert(0, Reply(kind="text", text=body, author="staff"))
    for item in replies:
        enqueue(session, conv, item, purpose="staff", in_reply_to=conv.last_inbound_message_id)
    audit.record(
        session,
        me(),
        "conversation.reply",
        "conversation",
        conv.id,
        f"{len(replies)} message(s), {len(uploads)} file(s)",
    )
    session.commit()
    if wants_json():
        return jsonify(sent=len(replies))
    return redirect(url_for("staff.conversation", conv_id=conv.id))


def _end_human(conv_id: int, *, close: bool) -> Response:
    session = db()
    conv = _conversation(conv_id)
    if conv.mode not in ("human", "waiting_human", "paused") or (
        conv.mode == "human" and not _owns(conv) and not me().is_admin
    ):
        flash("Chỉ cán bộ đang phụ trách mới trả được cuộc trò chuyện.", "error")
        return redirect(url_for("staff.conversation", conv_id=conv.id))
    from bot.transcript import enqueue

    owner.hand_back(conv, close=close)
    enqueue(
        session,
        conv,
        Reply(kind="text", text=text("staff.closed" if close else "staff.handed_back")),
        purpose="reply",
        in_reply_to=conv.last_inbound_message_id,
    )
    question = satisfaction.after_close(session, conv, me().id, utcnow()) if close else None
    if question is not None:
        enqueue(session, conv, question, purpose="reply", in_reply_to=conv.last_inbound_message_id)
    audit.record(
        session, me(), "conversation.close" if close else "conversation.release", "conversation", conv.id
    )
    session.commit()
    flash("Đã đóng cuộc trò chuyện." if close else "Đã trả cuộc trò chuyện cho trợ lý tự động.", "ok")
    return redirect(url_for("staff.queue"))


@bp.post("/conversations/<int:conv_id>/release")
def release(conv_id: int) -> Response:
    return _end_human(conv_id, close=False)


@bp.post("/conversations/<int:conv_id>/close")
def close(conv_id: int) -> Response:
    return _end_human(conv_id, close=True)
