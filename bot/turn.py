"""The turn runner: one citizen message in, the dialogue's replies out, in one database transaction.

Above the transcript (`bot.transcript`) and the dialogue: the one the process's `Services` carry (by default
`flows.dialogue`), or one passed in explicitly.
Before the transaction it reads the conversation's state and asks the dialogue what the message will need
from the network (an NLU parse, file downloads), and fetches that; inside the transaction no network call
is made (`flows.turn.Network`). Used the same way by the queue workers and by the console channel.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.messages import Inbound, Reply, numbered_choice
from bot.models import Conversation
from bot.services import Services
from bot.transcript import record_inbound
from connectors import numbered_list
from flows import dialogue as flows_dialogue
from flows.turn import Needs, Network, NetworkNeeded, Turn

log = logging.getLogger(__name__)

RERUNS = 3  # a turn that keeps asking for more than it was given is a bug: it fails like any other


class Dialogue(Protocol):
    """What the runner needs of a dialogue manager (`flows.dialogue` is the one)."""

    def handle_turn(self, turn: Turn) -> list[Reply]: ...

    def read_ahead(self, services: Services, state: dict[str, Any], inbound: Inbound, now: datetime) -> Needs:
        ...


def dialogue_of(services: Services) -> Dialogue:
    """The dialogue this process's turns run: the one injected into its services, else the flow engine."""
    return services.dialogue or flows_dialogue  # type: ignore[no-any-return]


_CITIZEN = tuple_(Conversation.channel, Conversation.user_id)
_CONVERSATION_STATES = select(Conversation.channel, Conversation.user_id, Conversation.mode,
                              Conversation.state).where(_CITIZEN.in_(bindparam("citizens", expanding=True)))
NEW_CONVERSATION: tuple[str, dict[str, Any]] = ("bot", {})


def conversation_states(services: Services,
                        citizens: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(mode, state) of these (channel, user id)s' conversations, in one query (a worker's round reads its
    citizens' together); a citizen without a conversation yet is absent."""
    if not citizens:
        return {}
    with services.sessions() as session:
        rows = session.execute(_CONVERSATION_STATES, {"citizens": citizens}).all()
    return {(row[0], row[1]): (row[2], row[3] or {}) for row in rows}


def prepare(services: Services, inbound: Inbound, now: datetime, dialogue: Dialogue | None = None,
            conversation: tuple[str, dict[str, Any]] | None = None) -> Network:
    """Outside any transaction: fetch what the message will need from the network; the rest stays lazy.

    `conversation`: its (mode, state) if the caller read it already (`conversation_states`)."""
    network, needs = plan(services, inbound, now, dialogue, conversation)
    needs.fetch(network)
    network.closed = True
    return network


def plan(services: Services, inbound: Inbound, now: datetime, dialogue: Dialogue | None = None,
         conversation: tuple[str, dict[str, Any]] | None = None) -> tuple[Network, Needs]:
    """`prepare` without the fetching: the turn's `Network` and what it will need, for a caller that fetches
    several turns' needs at once (a worker's round). Close the network after fetching."""
    network = Network(services, inbound)
    read_ahead = getattr(dialogue or dialogue_of(services), "read_ahead", None)
    if read_ahead is None or inbound.kind in ("follow", "unfollow"):
        return network, Needs()
    if conversation is None:
        key = (inbound.channel, inbound.user_id)
        conversation = conversation_states(services, [key]).get(key, NEW_CONVERSATION)
    mode, state = conversation
    inbound = picked(inbound, state or {})  # a typed number needs nothing from the network
    return network, (read_ahead(services, dict(state or {}), inbound, now) if mode == "bot" else Needs())


def run_turn(session: Session, services: Services, inbound: Inbound, now: datetime | None = None, *,
             network: Network | None = None, dialogue: Dialogue | None = None,
             wait_for_nlu: bool = False) -> list[Reply]:
    """Process one inbound message inside the caller's transaction; returns the replies it enqueued (empty
    while staff own the chat). Raises `NetworkNeeded` if the dialogue wanted a network read `prepare` did not
    make: the caller rolls back, `network.fetch_needed(...)`, and runs the turn again.

    With `wait_for_nlu`, a turn whose message needs the NLU while the server does not answer raises
    `NLUUnavailable` (the caller rolls back and retries later) instead of answering the degraded menu."""
    now = now or utcnow()
    transcript = record_inbound(session, inbound, now)
    if transcript.conversation.mode != "bot":
        transcript.write_inbound()
        return []
    conversation = transcript.conversation
    turn = Turn(session=session, services=services, conversation=conversation,
                inbound=picked(inbound, conversation.state or {}), now=now, transcript=transcript,
                network=network or Network(services, inbound), wait_for_nlu=wait_for_nlu)
    replies: list[Reply] = (dialogue or dialogue_of(services)).handle_turn(turn)
    remember_numbered(conversation, replies)
    transcript.finish(replies, in_reply_to=inbound.message_id)
    return replies


NUMBERED = "numbered"  # conversation.state key: payloads of the numbered list the citizen sees last


def picked(inbound: Inbound, state: dict[str, Any]) -> Inbound:
    """A typed number after a numbered list, as the tap on that button (on every channel, without NLU)."""
    if inbound.kind != "text":
        return inbound
    chosen = numbered_choice(inbound.text, state.get(NUMBERED) or ())
    return replace(inbound, kind="payload", payload=chosen) if chosen else inbound


def remember_numbered(conversation: Conversation, replies: list[Reply]) -> None:
    """Keep the list this turn's replies show as numbered lines on the conversation's channel, if any."""
    state = dict(conversation.state or {})
    payloads = numbered_list(conversation.channel, replies)
    if payloads:
        state[NUMBERED] = payloads
    elif state.pop(NUMBERED, None) is None:
        return
    conversation.state = state  # a new dict, so the JSON column sees the change


def take_turn(services: Services, inbound: Inbound, now: datetime | None = None,
              dialogue: Dialogue | None = None) -> list[Reply]:
    """One whole turn in its own transaction, its network reads before it (console, tests)."""
    now = now or utcnow()
    network = prepare(services, inbound, now, dialogue)
    for attempt in range(RERUNS + 1):
        try:
            with transaction(services.sessions) as session:
                return run_turn(session, services, inbound, now, network=network, dialogue=dialogue)
        except NetworkNeeded as need:
            if attempt == RERUNS:
                raise
            log.warning("turn ran again to fetch outside its transaction (%s)", need)
            network.fetch_needed(need)
    raise AssertionError("unreachable")
