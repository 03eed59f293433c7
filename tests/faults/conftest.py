"""Fault tests: counting what happened to every citizen message after a fault."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from channels.conftest import graph_server, zalo_server  # noqa: F401 (the platform stand-ins, as fixtures)
from sqlalchemy import select

from bot.models import InboundEvent, Message, OutboxMessage
from bot.services import Services


@dataclass(frozen=True)
class Outcome:
    """Per citizen message: how many answers it got and how many times its turn committed.

    Lost: no answer. Answered twice: its turn committed twice (the transcript row of the citizen's message
    is written in the same transaction as the turn's replies, so a second commit shows as a second row).
    """

    sent: list[str]  # the message ids the citizens sent
    answers: Counter[str]  # message id -> outbox rows answering it
    transcribed: Counter[str]  # message id -> inbound transcript rows
    statuses: Counter[str]  # event status -> count

    @property
    def lost(self) -> int:
        return sum(1 for mid in self.sent if self.answers[mid] == 0)

    @property
    def twice(self) -> int:
        return sum(1 for mid in self.sent if self.transcribed[mid] > 1)


def outcome(services: Services, sent: list[str]) -> Outcome:
    with services.sessions() as session:
        answers = Counter(session.scalars(select(OutboxMessage.in_reply_to)))
        bodies = session.scalars(select(Message.body).where(Message.direction == "in"))
        transcribed = Counter(str((body or {}).get("message_id")) for body in bodies)
        statuses = Counter(session.scalars(select(InboundEvent.status)))
    return Outcome(sent, answers, transcribed, statuses)
