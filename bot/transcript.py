"""The transcript and the outbox: what a conversation said, and what waits to be sent.

The lowest layer of a turn: it knows conversations, messages and outbox rows, nothing of flows or of the
NLU. Everyone who writes to a conversation (the turn runner, officers, dossier notifications, erasure) writes
through it, and the form of address the citizen is called by is applied here, once for every bot
reply (`bot.address`). What one citizen turn writes is an explicit object, `TurnTranscript`: the citizen's
message is held in it until the turn's replies go in with it (one INSERT for the lot), unless the turn writes
something else first; then the turn says so (`write_inbound`), so the citizen's message stays first.

A worker runs a round of turns (one per conversation) in one transaction: inside `round_of_turns` the round's
conversations are read in one query, and the turns' transcript rows are written together when the round ends
(two INSERTs and one ORM flush for the round, not per turn). Nothing in a turn reads another conversation's
transcript, and each conversation has one turn in a round, so every conversation keeps its order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from bot.address import address_reply
from bot.agency import Agency
from bot.db import utcnow
from bot.messages import Inbound, Reply
from bot.models import Conversation, Message, OutboxMessage

# Every turn runs these: built once, so no statement is constructed (or its cache key computed) per turn.
_MESSAGE, _OUTBOX = Message.__table__, OutboxMessage.__table__
_FIND_CONVERSATION = select(Conversation).where(Conversation.channel == bindparam("channel"),
                                                Conversation.user_id == bindparam("user_id"))
_INSERT_INBOUND = insert(_MESSAGE).returning(_MESSAGE.c.id)
_INSERT_ROWS = {table.name: insert(table).returning(table.c.id) for table in (_MESSAGE, _OUTBOX)}
# What the turn understood of the citizen's message (the review inbox and the dashboard read them).
_READING = ("intent", "confidence", "procedure_code", "procedure_score", "outcome")
_NO_READING = dict.fromkeys(_READING)
_SET_INTENT = (update(_MESSAGE).where(_MESSAGE.c.id == bindparam("message_id"))
               .values({key: bindparam(key) for key in _READING}))
_FIND_CONVERSATIONS = select(Conversation).where(
    tuple_(Conversation.channel, Conversation.user_id).in_(bindparam("citizens", expanding=True)))
# session.info keys while a round of turns runs (`round_of_turns`)
_LOADED, _PENDING = "motcua.round_conversations", "motcua.round_rows"


def conversation_for(session: Session, channel: str, user_id: str) -> Conversation:
    """The conversation of (channel, user), created on first contact."""
    loaded = session.info.get(_LOADED)
    conv = loaded.get((channel, user_id)) if loaded is not None else None
    if conv is not None:
        return conv
    conv = session.scalars(_FIND_CONVERSATION, {"channel": channel, "user_id": user_id}).first()
    if conv is None:
        conv = Conversation(channel=channel, user_id=user_id, state={}, profile={})
        session.add(conv)
        session.flush()
    if loaded is not None:
        loaded[(channel, user_id)] = conv
    return conv


@contextmanager
def round_of_turns(session: Session, citizens: list[tuple[str, str]]) -> Iterator[None]:
    """Inside the caller's transaction: the citizens' conversations read in one query, and the transcript
    rows of the turns finished meanwhile written when the block ends (not if it raises: the caller rolls
    back)."""
    loaded = {(conv.channel, conv.user_id): conv
              for conv in session.scalars(_FIND_CONVERSATIONS, {"citizens": citizens})} if citizens else {}
    pending: dict[str, list[dict[str, Any]]] = {_MESSAGE.name: [], _OUTBOX.name: []}
    session.info[_LOADED], session.info[_PENDING] = loaded, pending
    try:
        yield
        session.flush()  # what the turns added through the ORM first: each transcript keeps its order
        connection = session.connection()
        for table in (_MESSAGE, _OUTBOX):
            _insert_rows(connection, table, pending[table.name])
    finally:
        session.info.pop(_LOADED, None)
        session.info.pop(_PENDING, None)


def address_form(conversation: Conversation) -> str:
    """How this citizen is called: their own choice (state "address", `flows.dialogue`), else the agency's."""
    chosen = (conversation.state or {}).get("address")
    return chosen if isinstance(chosen, str) and chosen else Agency.load().address_form


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
    with status "held" and sent when the citizen next writes. Inside a citizen's turn, write the turn's
    inbound message first (`TurnTranscript.write_inbound`).
    """
    author = "staff" if reply.author == "staff" else "bot"
    reply = address_reply(reply, address_form(conversation))  # the one place the form of address is applied
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


@dataclass
class TurnTranscript:
    """What one citizen turn writes: their message (held until written), its intent, the bot's replies."""

    session: Session
    conversation: Conversation
    inbound_row: dict[str, Any] | None  # the citizen's message while it waits to be written
    inbound_id: int | None = None  # its row once written

    def write_inbound(self) -> None:
        """Write the citizen's message now: before another row of this turn (a notification an action
        sends, an erasure that must take the message with the rest)."""
        if self.inbound_row is not None:
            row, self.inbound_row = self.inbound_row, None
            self.inbound_id = self.session.connection().execute(_INSERT_INBOUND, row).scalar_one()

    def note_intent(self, intent: str, confidence: float | None = None,
                    procedure: tuple[str, float] | None = None, outcome: str | None = None) -> None:
        """The understood intent on the citizen's message (staff, analytics); with it the NLU's confidence,
        its best procedure (code, score) and what the bot did ("fallback", "handoff_<reason>")."""
        reading = {"intent": intent[:50], "confidence": confidence,
                   "procedure_code": procedure[0][:20] if procedure else None,
                   "procedure_score": procedure[1] if procedure else None, "outcome": outcome}
        if self.inbound_row is not None:
            self.inbound_row.update(reading)  # goes in with the row
        elif self.inbound_id is not None:
            self.session.connection().execute(_SET_INTENT, {"message_id": self.inbound_id, **reading})

    def finish(self, replies: list[Reply], *, in_reply_to: str | None = None) -> None:
        """The turn's replies into the transcript and the outbox, with the citizen's message if it still
        waits: two INSERTs, or inside `round_of_turns` two rows lists written with the round's."""
        batch = self.session.info.get(_PENDING)
        if batch is None:
            self.session.flush()  # what the turn added through the ORM first: the transcript keeps its order
        conv, pending, self.inbound_row = self.conversation, self.inbound_row, None
        form = address_form(conv)
        replies = [address_reply(reply, form) for reply in replies]
        bodies = [reply.to_dict() for reply in replies]
        now = utcnow()
        messages = ([pending] if pending else []) + [
            {"conversation_id": conv.id, "direction": "out",
             "author": "staff" if reply.author == "staff" else "bot", "text": reply.text, "body": body,
             **_NO_READING, "created_at": now}
            for reply, body in zip(replies, bodies, strict=True)
        ]
        outbox = [{"conversation_id": conv.id, "channel": conv.channel, "user_id": conv.user_id,
                   "reply": body, "in_reply_to": in_reply_to, "purpose": "reply", "created_at": now}
                  for body in bodies]
        if batch is not None:
            batch[_MESSAGE.name].extend(messages)
            batch[_OUTBOX.name].extend(outbox)
            return
        connection = self.session.connection()
        _insert_rows(connection, _MESSAGE, messages)
        _insert_rows(connection, _OUTBOX, outbox)


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One INSERT statement for the rows: one round trip, and no compilation per turn.

    A list of rows with RETURNING goes through SQLAlchemy's "insertmanyvalues": one multi-row VALUES
    statement rendered from the cached single-row one. (A literal `.values([...])` has no cache key and is
    compiled on every call; a plain executemany would open a psycopg pipeline.)
    """
    if rows:
        connection.execute(_INSERT_ROWS[table.name], rows)


def record_inbound(session: Session, inbound: Inbound, now: datetime) -> TurnTranscript:
    """Start a turn's transcript with the citizen's message, and restart the messaging window from now."""
    conv = conversation_for(session, inbound.channel, inbound.user_id)
    conv.last_inbound_at = now
    conv.last_inbound_message_id = inbound.message_id  # Zalo free replies address this message (window.py)
    return TurnTranscript(session, conv, {"conversation_id": conv.id, "direction": "in", "author": "citizen",
                                          "text": inbound.text, "body": inbound.to_dict(), **_NO_READING,
                                          "created_at": utcnow()})
