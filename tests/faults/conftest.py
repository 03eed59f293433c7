"""Fault tests: counting what happened to every citizen message after a fault."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from channels.conftest import graph_server, zalo_server  # noqa: F401 (the platform stand-ins, as fixtures)
from sqlalchemy import select

from bot.models import Conversation, InboundEvent, Message, OutboxMessage
from bot.services import Services


@dataclass(frozen=True)
class Outcome:
    """Per citizen message: how many answers it got and how many times its turn committed.

    Lost: not in the transcript, or not answered while the bot still owns the conversation (once it is
    handed to an officer, e.g. for a dead letter, the bot rightly stays silent and the officer reads it).
    Answered twice: its turn committed twice (the transcript row of the citizen's message is written in the
    same transaction as the turn's replies, so a second commit shows as a second row).
    """

    sent: list[str]  # the message ids the citizens sent
    answers: Counter[str]  # message id -> outbox rows answering it
    transcribed: Counter[str]  # message id -> inbound transcript rows
    with_officer: set[str]  # message ids whose conversation is with an officer
    statuses: Counter[str]  # event status -> count

    @property
    def lost(self) -> int:
        return sum(1 for mid in self.sent if not self.transcribed[mid]
                   or (not self.answers[mid] and mid not in self.with_officer))

    @property
    def twice(self) -> int:
        return sum(1 for mid in self.sent if self.transcribed[mid] > 1)


def outcome(services: Services, sent: list[str]) -> Outcome:
    with services.sessions() as session:
        answers = Counter(session.scalars(select(OutboxMessage.in_reply_to)))
        rows = session.execute(select(Message.body, Conversation.mode)
                               .join(Conversation, Conversation.id == Message.conversation_id)
                               .where(Message.direction == "in")).all()
        statuses = Counter(session.scalars(select(InboundEvent.status)))
    transcribed = Counter(str((body or {}).get("message_id")) for body, _ in rows)
    with_officer = {str((body or {}).get("message_id")) for body, mode in rows
                    if mode in ("waiting_human", "human")}
    return Outcome(sent, answers, transcribed, with_officer, statuses)
