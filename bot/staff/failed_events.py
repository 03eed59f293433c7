"""Messages the bot could not process (dead letters, bot/pipeline/deadletter.py): list, open, retry, dismiss.

The list shows ids, channel, time and the kind of error only; the citizen's words appear when an officer
opens one, and opening is in the audit trail like any other access to a conversation.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select, tuple_
from werkzeug.wrappers import Response

from bot.models import Conversation, InboundEvent
from bot.pipeline import deadletter
from bot.pipeline.store import EVENTS
from bot.staff import audit
from bot.staff.views import bp, db, get_or_404, me


def _conversation_ids(events: list[InboundEvent]) -> dict[tuple[str, str], int]:
    keys = {(event.channel, event.user_id) for event in events}
    if not keys:
        return {}
    rows = db().execute(select(Conversation.channel, Conversation.user_id, Conversation.id)
                        .where(tuple_(Conversation.channel, Conversation.user_id).in_(list(keys))))
    return {(channel, user): conv_id for channel, user, conv_id in rows}


@bp.get("/failed")
def failed_events() -> str:
    events = deadletter.dead_letters(db())
    return render_template("staff/failed_events.html", events=events, convs=_conversation_ids(events),
                           error_class=deadletter.error_class)


@bp.get("/failed/<int:event_id>")
def failed_event(event_id: int) -> str:
    session = db()
    event = get_or_404(InboundEvent, event_id)
    if event.status != deadletter.DEAD:
        abort(404)
    audit.record(session, me(), "failed_event.view", "inbound_event", event.id)
    session.commit()
    return render_template("staff/failed_event.html", event=event, shown=deadletter.shown_text(event),
                           conv_id=_conversation_ids([event]).get((event.channel, event.user_id)),
                           error_class=deadletter.error_class)


# What an officer may do with a dead letter: the change, and what they are told it did.
ACTIONS = {
    "retry": (deadletter.retry, "Đã đưa tin nhắn vào xử lý lại."),
    "dismiss": (deadletter.dismiss, "Đã bỏ qua tin nhắn lỗi."),
}


@bp.post("/failed/<int:event_id>/<action>")
def failed_event_action(event_id: int, action: str) -> Response:
    """Retry (queued again from scratch) or dismiss one dead letter; audited."""
    if action not in ACTIONS:
        abort(404)
    change, done = ACTIONS[action]
    session = db()
    if change(get_or_404(InboundEvent, event_id)):
        audit.record(session, me(), f"failed_event.{action}", "inbound_event", event_id)
        session.commit()
        if action == "retry":
            EVENTS.notify()
        flash(done, "ok")
    return redirect(url_for("staff.failed_events"))
