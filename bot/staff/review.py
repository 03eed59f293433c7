"""`/staff/review`: the review inbox for admins and officers with the reviewer right; labels become
masked NLU examples (bot/insight/review.py), and admins retrain the model from here."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bot.catalog.store import Catalog
from bot.db import utcnow
from bot.insight import review
from bot.models import StaffUser
from bot.staff import audit
from bot.staff.views import app_settings, bp, db, get_or_404, me


def _reviewer() -> None:
    if not me().may_review:
        abort(403)


@bp.get("/review")
def review_inbox() -> str:
    _reviewer()
    from bot.insight.retrain import current_models

    settings = app_settings()
    catalog = Catalog.load(settings.data_dir)
    session = db()
    items = review.inbox(session, utcnow())
    audit.record(session, me(), "nlu.review_view", "message", None, f"{len(items)} group(s)")
    session.commit()
    return render_template(
        "staff/review.html",
        items=items,
        intents=review.known_intents(settings.data_dir),
        procedures=[(p.code, p.name) for p in catalog.all()],
        models=current_models(db()),
    )


@bp.post("/review/label")
def review_label() -> Response:
    _reviewer()
    session = db()
    settings = app_settings()
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()][:1000]
    dismiss = request.form.get("action") == "dismiss"
    procedure = (request.form.get("procedure") or "").split(" ", 1)[0].strip() or None
    try:
        done = review.label(session, ids, intent=request.form.get("intent"), procedure=procedure,
                            dismiss=dismiss, reviewer_id=me().id,
                            intents=review.known_intents(settings.data_dir),
                            procedures=Catalog.load(settings.data_dir))
    except review.ReviewError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff.review_inbox"))
    audit.record(session, me(), "nlu.dismiss" if dismiss else "nlu.label", "message", ids[0] if ids else None,
                 f"{done} message(s)")
    session.commit()
    flash(f"Đã ghi nhận {done} tin nhắn.", "ok")
    return redirect(url_for("staff.review_inbox"))


@bp.post("/review/retrain")
def retrain() -> Response:
    """Admins: retrain with the reviewed examples in the background; the page shows its progress."""
    if not me().is_admin:
        abort(403)
    from bot.insight import retrain as job

    settings = app_settings()
    started = job.start(current_app.extensions["motcua"].sessions, settings.data_dir, [settings.rasa_url])
    session = db()
    audit.record(session, me(), "nlu.retrain", "nlu_model", None, "started" if started else "already running")
    session.commit()
    flash("Đã bắt đầu huấn luyện lại." if started else "Đang có một lần huấn luyện lại chạy.", "ok")
    return redirect(url_for("staff.review_inbox"))


@bp.get("/review/retrain.json")
def retrain_status() -> Response:
    _reviewer()
    from bot.insight.retrain import JOB

    return jsonify(state=JOB.state, step=JOB.step, result=JOB.result, text=JOB.text())


@bp.post("/users/<int:user_id>/reviewer")
def user_reviewer(user_id: int) -> Response:
    """Admins grant or take back an officer's right to label messages in the review inbox."""
    if not me().is_admin:
        abort(403)
    session = db()
    user = get_or_404(StaffUser, user_id)
    user.reviewer = request.form.get("reviewer") == "1"
    action = "user.reviewer_on" if user.reviewer else "user.reviewer_off"
    audit.record(session, me(), action, "staff_user", user.id)
    session.commit()
    return redirect(url_for("staff.users"))
