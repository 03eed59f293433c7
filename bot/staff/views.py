"""The staff console (`/staff`): escalation queue, conversations, dossiers, undeliverable messages, accounts.

Every endpoint except the login page needs a logged-in officer, and every POST a valid CSRF token; both
are enforced once in `_guard`, so a new route is protected without remembering to.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from bot.config import Settings
from bot.db import utcnow
from bot.dossier import normalised_phone
from bot.dossier_workflow import (
    LOCAL_TZ,
    InvalidTransition,
    allowed_next,
    change_status,
    is_overdue,
    label,
    overdue_clause,
)
from bot.messages import Reply
from bot.models import Conversation, Dossier, DossierDocument, Message, OutboxMessage, StaffUser, StoredFile
from bot.models.dossier import STATUSES
from bot.models.staff import ROLES
from bot.staff import audit, auth, files
from bot.templates import has, text

log = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")
PUBLIC_ENDPOINTS = frozenset({"staff.login"})
MAX_REPLY = 1900
PAGE_SIZE = 50
T = TypeVar("T")


# ---------------------------------------------------------------- request plumbing


def _settings() -> Settings:
    return current_app.extensions["motcua"].settings  # type: ignore[no-any-return]


def db() -> Session:
    """This request's database session (opened lazily, closed at teardown; views commit explicitly)."""
    if "staff_db" not in g:
        g.staff_db = current_app.extensions["motcua"].sessions()
    return g.staff_db  # type: ignore[no-any-return]


def me() -> StaffUser:
    return g.staff_user  # type: ignore[no-any-return]


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


@bp.before_request
def _guard() -> Response | tuple[Response, int] | None:
    user = auth.session_user(db())
    g.staff_user = user
    if user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if _wants_json() or request.method != "GET":
            return jsonify(error="login required"), 401
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        submitted = request.form.get(auth.CSRF_FIELD) or request.headers.get(auth.CSRF_HEADER)
        if not auth.csrf_valid(submitted):
            log.warning("staff: CSRF token rejected on %s", request.endpoint)
            return jsonify(error="invalid CSRF token"), 400
    return None


@bp.teardown_request
def _close(_exc: BaseException | None) -> None:
    session = g.pop("staff_db", None)
    if session is not None:
        session.close()


@bp.after_request
def _no_store(response: Response) -> Response:
    """Pages with personal data must not stay in shared browser caches."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _label(prefix: str, code: str | None) -> str:
    if not code:
        return ""
    key = f"staff.{prefix}_{code}"
    return text(key) if has(key) else code


def _localtime(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(LOCAL_TZ).strftime(fmt) if moment else ""


def _waited(since: datetime | None) -> str:
    if since is None:
        return ""
    minutes = max(0, int((utcnow() - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} phút"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} giờ {minutes} phút"
    return f"{hours // 24} ngày {hours % 24} giờ"


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": auth.csrf_token,
        "status_label": label,
        "reason_label": lambda c: _label("reason", c),
        "channel_label": lambda c: _label("channel", c),
        "localtime": _localtime,
        "waited": _waited,
    }


# ---------------------------------------------------------------- login


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/staff") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("staff.queue")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        if g.staff_user is not None:
            return redirect(url_for("staff.queue"))
        return render_template("staff/login.html", next=request.args.get("next", ""))
    session = db()
    username = request.form.get("username", "")[:100]
    result = auth.authenticate(session, username, request.form.get("password", "")[:200], utcnow())
    if result.outcome == "ok" and result.user is not None:
        audit.record(session, result.user, "login", "staff_user", result.user.id)
        session.commit()
        auth.start_session(result.user)
        log.info("staff: login of staff id %s", result.user.id)
        return redirect(_safe_next(request.form.get("next")))
    if result.user is not None:
        audit.record(session, result.user, f"login.{result.outcome}", "staff_user", result.user.id)
    session.commit()
    message = {
        "locked": "Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau 15 phút.",
        "inactive": "Tài khoản đã bị vô hiệu hóa. Liên hệ quản trị viên.",
    }.get(result.outcome, "Sai tên đăng nhập hoặc mật khẩu.")
    flash(message, "error")
    return render_template("staff/login.html", next=request.form.get("next", "")), 401


@bp.post("/logout")
def logout() -> Response:
    session = db()
    audit.record(session, me(), "logout", "staff_user", me().id)
    session.commit()
    auth.end_session()
    return redirect(url_for("staff.login"))


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


def _get(model: type[T], key: int) -> T:
    """The row with this primary key, or a 404 page."""
    row = db().get(model, key)
    if row is None:
        abort(404)
    return row


def _conversation(conv_id: int) -> Conversation:
    return _get(Conversation, conv_id)


def _citizen_dossiers(session: Session, conv: Conversation) -> list[Dossier]:
    return list(
        session.scalars(
            select(Dossier)
            .where(
                or_(
                    Dossier.conversation_id == conv.id,
                    (Dossier.channel == conv.channel) & (Dossier.user_id == conv.user_id),
                )
            )
            .order_by(Dossier.received_at.desc())
        )
    )


def _message_json(msg: Message) -> dict[str, Any]:
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
        "at": _localtime(msg.created_at, "%d/%m %H:%M"),
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
    dossiers = _citizen_dossiers(session, conv)
    owner = session.get(StaffUser, conv.assigned_staff_id) if conv.assigned_staff_id else None
    audit.record(session, me(), "conversation.view", "conversation", conv.id)
    session.commit()
    return render_template(
        "staff/conversation.html",
        conv=conv,
        messages=[_message_json(m) for m in messages],
        dossiers=dossiers,
        owner=owner,
        mine=_owns(conv),
        profile_keys=sorted(conv.profile or {}),
    )


@bp.get("/conversations/<int:conv_id>/messages.json")
def conversation_messages(conv_id: int) -> Response:
    """Messages after `after` (a message id): the page polls this so new messages appear without reloading."""
    session = db()
    conv = _conversation(conv_id)
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() else 0
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.id > after_id)
        .order_by(Message.id)
        .limit(200)
    ).all()
    return jsonify(
        mode=conv.mode, assigned_staff_id=conv.assigned_staff_id, messages=[_message_json(m) for m in rows]
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
    previous = conv.mode
    conv.mode = "human"
    conv.assigned_staff_id = me().id
    conv.handoff_since = conv.handoff_since or utcnow()
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
    from bot.turn import enqueue

    settings = _settings()
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
    if _wants_json():
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
    from bot.turn import enqueue

    conv.mode = "bot"
    conv.assigned_staff_id = None
    conv.handoff_reason = None
    conv.handoff_since = None
    conv.failed_understanding = 0
    if close:
        conv.state = {}
    enqueue(
        session,
        conv,
        Reply(kind="text", text=text("staff.closed" if close else "staff.handed_back")),
        purpose="staff" if close else "reply",
        in_reply_to=conv.last_inbound_message_id,
    )
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


# ---------------------------------------------------------------- dossiers


def _parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        flash(f"Ngày không hợp lệ: {raw[:20]}", "error")
        return None


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, LOCAL_TZ)


@bp.get("/dossiers")
def dossiers() -> str:
    session = db()
    args = request.args
    query = select(Dossier)
    status = args.get("status", "")
    if status in STATUSES:
        query = query.where(Dossier.status == status)
    procedure = args.get("procedure", "").strip()
    if procedure:
        query = query.where(Dossier.procedure_code == procedure)
    start, end = _parse_date(args.get("from")), _parse_date(args.get("to"))
    if start:
        query = query.where(Dossier.received_at >= _local_start(start))
    if end:
        query = query.where(Dossier.received_at < _local_start(end + timedelta(days=1)))
    now = utcnow()
    if args.get("overdue"):
        query = query.where(overdue_clause(now))
    q = args.get("q", "").strip()[:60]
    if q:
        phone = normalised_phone(q)
        query = query.where(
            or_(Dossier.code.ilike(f"%{q}%"), Dossier.phone == phone)
            if phone
            else Dossier.code.ilike(f"%{q}%")
        )
    page = max(1, int(args["page"])) if args.get("page", "").isdigit() else 1
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Dossier.updated_at.desc(), Dossier.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    procedures = session.execute(
        select(Dossier.procedure_code, func.max(Dossier.procedure_name))
        .group_by(Dossier.procedure_code)
        .order_by(Dossier.procedure_code)
    ).all()
    if q:
        audit.record(session, me(), "dossier.search", "dossier", None, f"{total} result(s)")
        session.commit()
    return render_template(
        "staff/dossiers.html",
        rows=rows,
        total=total,
        page=page,
        pages=-(-total // PAGE_SIZE),
        statuses=STATUSES,
        procedures=procedures,
        args=args,
        overdue={d.id for d in rows if is_overdue(d, now)},
    )


def _dossier(code: str) -> Dossier:
    dossier = db().scalars(select(Dossier).where(Dossier.code == code)).first()
    if dossier is None:
        abort(404)
    return dossier


@bp.get("/dossiers/<code>")
def dossier(code: str) -> str:
    session = db()
    item = _dossier(code)
    conv = session.get(Conversation, item.conversation_id) if item.conversation_id else None
    messages = []
    if conv is not None:
        messages = [
            _message_json(m)
            for m in session.scalars(
                select(Message)
                .where(Message.conversation_id == conv.id)
                .order_by(Message.id.desc())
                .limit(100)
            )
        ]
        messages.reverse()
    audit.record(session, me(), "dossier.view", "dossier", item.code, "applicant, documents, history")
    session.commit()
    return render_template(
        "staff/dossier.html",
        d=item,
        conv=conv,
        messages=messages,
        next_statuses=allowed_next(item.status),
        overdue=is_overdue(item, utcnow()),
    )


@bp.post("/dossiers/<code>/status")
def dossier_status(code: str) -> Response:
    session = db()
    item = _dossier(code)
    items = [line for line in (request.form.get("items") or "").splitlines() if line.strip()]
    try:
        change_status(
            session,
            item,
            request.form.get("status", ""),
            request.form.get("note"),
            audit.actor_name(me()),
            utcnow(),
            items=items,
            staff=me(),
        )
    except InvalidTransition as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.dossier", code=code))
    session.commit()
    flash(f"Đã chuyển hồ sơ sang “{label(item.status)}” và báo cho công dân.", "ok")
    return redirect(url_for("staff.dossier", code=code))


@bp.get("/files/<name>")
def stored_file(name: str) -> Response:
    """A citizen's document or a sent file, inline (viewer) or as a download; logged-in staff only."""
    session = db()
    stored = session.scalars(select(StoredFile).where(StoredFile.storage_name == name)).first()
    path = files.file_path(_settings(), name) if stored is not None else None
    if stored is None or path is None:
        abort(404)
    download = request.args.get("download") == "1"
    doc = session.scalars(select(DossierDocument).where(DossierDocument.file_id == stored.id)).first()
    audit.record(
        session,
        me(),
        "file.download" if download else "file.view",
        "file",
        stored.id,
        f"dossier document {doc.dossier_id}" if doc else None,
    )
    session.commit()
    response = send_file(
        path,
        mimetype=stored.content_type,
        as_attachment=download,
        download_name=name,
        conditional=False,
        max_age=0,
    )
    # Types are sniffed at intake (JPEG, PNG, HEIC, PDF); Chromium's PDF viewer refuses sandboxed frames.
    policy = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'"
    if stored.content_type != "application/pdf":
        policy += "; sandbox"
    response.headers["Content-Security-Policy"] = policy
    return response


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
    row = _get(OutboxMessage, row_id)
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
    row = _get(OutboxMessage, row_id)
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
    staff_id = int(args["staff"]) if args.get("staff", "").isdigit() else None
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
    user = _get(StaffUser, user_id)
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
    user = _get(StaffUser, user_id)
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


# ---------------------------------------------------------------- registration


def register(app: Flask, settings: Settings) -> None:
    """Mount the console and configure the session cookie it relies on."""
    if not app.secret_key:
        log.warning("SECRET_KEY is not set: staff sessions use a random key and end when the process stops")
        app.secret_key = secrets.token_urlsafe(32)
    app.config.update(
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME,
    )
    from bot.staff.outgoing import bp as outgoing_bp

    app.register_blueprint(bp)
    app.register_blueprint(outgoing_bp)
