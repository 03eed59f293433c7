"""One citizen turn: transcript in, dialogue, transcript and outbox out, in the caller's transaction.

Used the same way by the queue workers (Zalo, Facebook, web) and by the console channel, so every
channel runs the same engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.messages import Inbound, Reply
from bot.models import Conversation, Message, OutboxMessage
from bot.services import Services


@dataclass
class Turn:
    """Everything the dialogue manager may use to answer one inbound message."""

    session: Session
    services: Services
    conversation: Conversation
    inbound: Inbound
    now: datetime


# Every turn runs these: built once, so no statement is constructed (or its cache key computed) per turn.
_MESSAGE, _OUTBOX = Message.__table__, OutboxMessage.__table__
_FIND_CONVERSATION = select(Conversation).where(Conversation.channel == bindparam("channel"),
                                                Conversation.user_id == bindparam("user_id"))
_INSERT_INBOUND = insert(_MESSAGE).returning(_MESSAGE.c.id)
_INSERT_ROWS = {table.name: insert(table).returning(table.c.id) for table in (_MESSAGE, _OUTBOX)}
_READING = ("intent", "confidence", "procedure_code", "procedure_score", "outcome")
_NO_READING = dict.fromkeys(_READING)
_SET_INTENT = (update(_MESSAGE).where(_MESSAGE.c.id == bindparam("message_id"))
               .values({key: bindparam(key) for key in _READING}))
# The citizen's message waits in the session until the turn's replies are written, so it goes in with them
# and with its intent in one INSERT; anything that writes the transcript earlier writes it first.
_PENDING, _WRITTEN = "motcua.inbound_message", "motcua.inbound_message_id"


def conversation_for(session: Session, channel: str, user_id: str) -> Conversation:
    """The conversation of (channel, user), created on first contact."""
    conv = session.scalars(_FIND_CONVERSATION, {"channel": channel, "user_id": user_id}).first()
    if conv is None:
        conv = Conversation(channel=channel, user_id=user_id, state={}, profile={})
        session.add(conv)
        session.flush()
    return conv


def enqueue(
    session: Session,
    conversation: Conversation,
    reply: Reply,
    *,
    purpose: str = "reply",
    in_reply_to: str | None = None,
) -> OutboxMessage:
    """Record an outgoing message in the transcript and the outbox (sent later by the dispatcher).

    `purpose` feeds the window policy (connectors/window.py): "reply" (the bot answering), "staff" (an
    officer wrote it: Messenger HUMAN_AGENT tag allowed up to 7 days) or "notification" (e.g. a dossier
    status change: Zalo transaction message after 7 days if enabled). What may not go out now is kept
    with status "held" and sent when the citizen next writes.
    """
    write_inbound(session)  # the citizen's message stays first in the transcript
    author = "staff" if reply.author == "staff" else "bot"
    session.add(
        Message(conversation_id=conversation.id, direction="out", author=author, text=reply.text,
                body=reply.to_dict())
    )
    item = OutboxMessage(
        conversation_id=conversation.id,
        channel=conversation.channel,
        user_id=conversation.user_id,
        reply=reply.to_dict(),
        in_reply_to=in_reply_to,
        purpose=purpose,
    )
    session.add(item)
    return item


def enqueue_replies(session: Session, conversation: Conversation, replies: list[Reply], *,
                    in_reply_to: str | None = None) -> None:
    """`enqueue` for a turn's bot replies, with the citizen's message if it still waits: two INSERTs."""
    session.flush()  # anything the turn added through the ORM first, so the transcript keeps its order
    pending = session.info.pop(_PENDING, None)
    bodies = [reply.to_dict() for reply in replies]
    connection = session.connection()
    _insert_rows(connection, _MESSAGE, ([pending] if pending else []) + [
        {"conversation_id": conversation.id, "direction": "out",
         "author": "staff" if reply.author == "staff" else "bot", "text": reply.text, "body": body,
         **_NO_READING, "created_at": utcnow()}
        for reply, body in zip(replies, bodies, strict=True)
    ])
    _insert_rows(connection, _OUTBOX, [
        {"conversation_id": conversation.id, "channel": conversation.channel, "user_id": conversation.user_id,
         "reply": body, "in_reply_to": in_reply_to, "purpose": "reply", "created_at": utcnow()}
        for body in bodies
    ])


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One INSERT statement for the rows: one round trip, and no compilation per turn.

    A list of rows with RETURNING goes through SQLAlchemy's "insertmanyvalues": one multi-row VALUES
    statement rendered from the cached single-row one. (A literal `.values([...])` has no cache key and is
    compiled on every call; a plain executemany would open a psycopg pipeline.)
    """
    if rows:
        connection.execute(_INSERT_ROWS[table.name], rows)


def record_inbound(session: Session, inbound: Inbound, now: datetime) -> Conversation:
    """Put the citizen's message in the transcript and restart the messaging window from now.

    The message row is written with the turn's replies (or by `write_inbound`, whichever comes first).
    """
    conv = conversation_for(session, inbound.channel, inbound.user_id)
    conv.last_inbound_at = now
    conv.last_inbound_message_id = inbound.message_id  # Zalo free replies address this message (window.py)
    session.info.pop(_WRITTEN, None)
    session.info[_PENDING] = {"conversation_id": conv.id, "direction": "in", "author": "citizen",
                              "text": inbound.text, "body": inbound.to_dict(), **_NO_READING,
                              "created_at": utcnow()}
    return conv


def write_inbound(session: Session) -> None:
    """Write the citizen's waiting message now (before other transcript rows, or before an erasure)."""
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        session.info[_WRITTEN] = session.connection().execute(_INSERT_INBOUND, pending).scalar_one()


def note_intent(session: Session, intent: str, confidence: float | None = None,
                procedure: tuple[str, float] | None = None, outcome: str | None = None) -> None:
    """Write the understood intent on the citizen's message in the transcript (staff, analytics).

    With it, the NLU's confidence, its best procedure (code, score) and what the bot did ("fallback",
    "handoff_<reason>"): the review inbox and the dashboard read them.
    """
    reading = {"intent": intent[:50], "confidence": confidence,
               "procedure_code": procedure[0][:20] if procedure else None,
               "procedure_score": procedure[1] if procedure else None, "outcome": outcome}
    pending, written = session.info.get(_PENDING), session.info.get(_WRITTEN)
    if pending is not None:
        pending.update(reading)  # goes in with the row
    elif written is not None:
        session.connection().execute(_SET_INTENT, {"message_id": written, **reading})


def run_turn(
    session: Session, services: Services, inbound: Inbound, now: datetime | None = None
) -> list[Reply]:
    """Process one inbound message; returns the replies it enqueued (empty while staff own the chat)."""
    from flows.dialogue import handle_turn

    now = now or utcnow()
    conv = record_inbound(session, inbound, now)
    if conv.mode != "bot":
        write_inbound(session)
        return []
    turn = Turn(session=session, services=services, conversation=conv, inbound=inbound, now=now)
    replies = handle_turn(turn)
    enqueue_replies(session, conv, replies, in_reply_to=inbound.message_id)
    return replies
