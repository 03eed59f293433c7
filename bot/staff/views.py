"""The staff console (`/staff`): the blueprint, its request guard, shared view helpers and login.

The pages live in escalations.py, dossier_views.py and admin.py, all on this blueprint. Every endpoint
except the login page needs a logged-in officer, and every POST a valid CSRF token; both are enforced
once in `_guard`, so a new route is protected without remembering to.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
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
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from bot.config import Settings
from bot.db import utcnow
from bot.dossier import local_zone, status_label
from bot.models import StaffUser
from bot.staff import audit, auth
from bot.templates import has, text

log = logging.getLogger(__name__)

bp = Blueprint("staff", __name__, url_prefix="/staff")
PUBLIC_ENDPOINTS = frozenset({"staff.login"})
T = TypeVar("T")


# ---------------------------------------------------------------- request plumbing


def app_settings() -> Settings:
    return current_app.extensions["motcua"].settings  # type: ignore[no-any-return]


def db() -> Session:
    """This request's database session (opened lazily, closed at teardown; views commit explicitly)."""
    if "staff_db" not in g:
        g.staff_db = current_app.extensions["motcua"].sessions()
    return g.staff_db  # type: ignore[no-any-return]


def me() -> StaffUser:
    return g.staff_user  # type: ignore[no-any-return]


def wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


@bp.before_request
def _guard() -> Response | tuple[Response, int] | None:
    user = auth.session_user(db())
    g.staff_user = user
    if user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if wants_json() or request.method != "GET":
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


def localtime(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(local_zone()).strftime(fmt) if moment else ""


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
        "status_label": status_label,
        "reason_label": lambda c: _label("reason", c),
        "channel_label": lambda c: _label("channel", c),
        "localtime": localtime,
        "waited": _waited,
    }


def get_or_404(model: type[T], key: int) -> T:
    """The row with this primary key, or a 404 page."""
    row = db().get(model, key)
    if row is None:
        abort(404)
    return row


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
    from bot.staff import admin, dashboard, dossier_views, escalations, review  # noqa: F401 (routes on `bp`)
    from bot.staff.outgoing import bp as outgoing_bp

    app.register_blueprint(bp)
    app.register_blueprint(outgoing_bp)
