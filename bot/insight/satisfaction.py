"""One satisfaction question (1–5 buttons) after an officer closes a conversation and after a dossier's
result is returned; asked once per dossier, and once per conversation and local day for closings.

Skipping is simply not answering: the buttons stay valid, nothing else waits for them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.agency import Agency
from bot.messages import Button, Reply
from bot.models import Conversation, Dossier, SatisfactionRating
from bot.templates import text

log = logging.getLogger(__name__)

ACTION = "rate"  # button payload name: /rate{"id": <rating id>, "score": 1..5}
SCORES = range(1, 6)


def _question(session: Session, conversation: Conversation, subject: str, now: datetime, *,
              staff_id: int | None, dossier_id: int | None, key: str) -> Reply | None:
    """The question as a reply, recorded as asked; None when this subject was asked before."""
    from flows.context import payload

    if session.scalars(select(SatisfactionRating.id).where(SatisfactionRating.subject == subject)).first():
        return None
    rating = SatisfactionRating(subject=subject, conversation_id=conversation.id, dossier_id=dossier_id,
                                staff_id=staff_id, asked_at=now)
    session.add(rating)
    session.flush()
    buttons = [Button(title=text(f"satisfaction.score_{n}"), payload=payload(ACTION, id=rating.id, score=n))
               for n in SCORES]
    return Reply.say(text(key), *buttons)


def after_close(session: Session, conversation: Conversation, staff_id: int | None,
                now: datetime) -> Reply | None:
    day = Agency.load().local(now).date().isoformat()
    return _question(session, conversation, f"conversation:{conversation.id}:{day}", now,
                     staff_id=staff_id, dossier_id=None, key="satisfaction.ask_conversation")


def after_return(session: Session, conversation: Conversation, dossier: Dossier, staff_id: int | None,
                 now: datetime) -> Reply | None:
    return _question(session, conversation, f"dossier:{dossier.id}", now, staff_id=staff_id,
                     dossier_id=dossier.id, key="satisfaction.ask_dossier")


def answer(session: Session, conversation: Conversation, args: dict[str, Any], now: datetime) -> Reply:
    """The citizen pressed a score: kept once (the first press counts), thanked either way."""
    rating_id, score = args.get("id"), args.get("score")
    rating = session.get(SatisfactionRating, rating_id) if isinstance(rating_id, int) else None
    if rating is None or rating.conversation_id != conversation.id or score not in SCORES:
        return Reply.say(text("satisfaction.unknown"))
    if rating.score is not None:
        return Reply.say(text("satisfaction.already"))
    rating.score, rating.answered_at = int(score), now
    log.info("satisfaction rating=%s answered", rating.id)
    return Reply.say(text("satisfaction.thanks"))
