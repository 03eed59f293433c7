"""What the dialogue gets for one citizen message, and the network calls it may use.

The turn runs inside a database transaction (transcript, state, outbox and the event's mark commit
together), and no network call may happen inside it: a SQLite write lock or a PostgreSQL row lock would wait
on HTTP. So the two network reads a turn can need, the NLU's parse of the message and the download of the
files it carries, go through `Network`: fetched before the transaction (the runner asks the dialogue what the
message will need, `flows.dialogue.read_ahead`), lazily and at most once per turn. If the dialogue
nevertheless asks inside the transaction for something it did not get, `NetworkNeeded` rolls the turn back;
the runner fetches it outside and runs the turn again (counted in `Network.reruns`; it should not happen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.document import Refusal, fetch
from bot.messages import Attachment, Inbound
from bot.models import Conversation
from bot.services import Services
from bot.transcript import TurnTranscript
from flows.courtesy import request_text
from nlu.client import NLUUnavailable, Parse


class NetworkNeeded(Exception):
    """The turn needs a network read it did not get before its transaction: roll back, fetch, run again."""

    def __init__(self, parse: bool = False, download: tuple[Attachment, int] | None = None) -> None:
        super().__init__("parse" if parse else "download")
        self.parse, self.download = parse, download


class Network:
    """The NLU parse of this turn's message and its downloads: fetched at most once each.

    The NLU reads the request, without the greeting, thanks or apology in front of it (`flows.courtesy`).

    Open (the default, for scripts and the console), a read happens on first use. Closed (while the turn's
    transaction is open), anything not fetched beforehand raises `NetworkNeeded` instead.
    """

    reruns = 0  # process-wide: turns run again to fetch outside their transaction (should stay 0)

    def __init__(self, services: Services, inbound: Inbound) -> None:
        self.services, self.text = services, request_text(inbound.text)
        self.closed = False
        self._parse: Parse | None = None
        self._unavailable: NLUUnavailable | None = None
        self._downloads: dict[tuple[str, int], bytes | Refusal] = {}

    @property
    def parsed(self) -> bool:
        return self._parse is not None or self._unavailable is not None

    def parse(self) -> Parse:
        """The NLU's reading of the message (NLUUnavailable when the server did not answer)."""
        if not self.parsed:
            if self.closed:
                raise NetworkNeeded(parse=True)
            self.fetch_parse()
        if self._unavailable is not None:
            raise self._unavailable
        assert self._parse is not None
        return self._parse

    def fetch_parse(self) -> None:
        """Ask the NLU now (outside the transaction); a failure is kept and raised where the parse is used."""
        if self.parsed:
            return
        try:
            self._parse = self.services.nlu.parse(self.text)
        except NLUUnavailable as exc:
            self._unavailable = exc

    def download(self, attachment: Attachment, max_bytes: int) -> bytes:
        """The attachment's bytes (Refusal with the reason to tell the citizen)."""
        key = (attachment.url, max_bytes)
        if key not in self._downloads:
            if self.closed:
                raise NetworkNeeded(download=(attachment, max_bytes))
            self.fetch_download(attachment, max_bytes)
        got = self._downloads[key]
        if isinstance(got, Refusal):
            raise got
        return got

    def fetch_download(self, attachment: Attachment, max_bytes: int) -> None:
        key = (attachment.url, max_bytes)
        if key in self._downloads:
            return
        try:
            self._downloads[key] = fetch(attachment, self.services.settings, max_bytes=max_bytes)
        except Refusal as refusal:
            self._downloads[key] = refusal

    def fetch_needed(self, need: NetworkNeeded) -> None:
        """What a rolled-back turn asked for, fetched outside its transaction before it runs again."""
        Network.reruns += 1
        if need.parse:
            self.fetch_parse()
        if need.download is not None:
            self.fetch_download(*need.download)


@dataclass(frozen=True)
class Needs:
    """What a message will need from the network, decided before the turn's transaction."""

    parse: bool = False
    downloads: tuple[tuple[Attachment, int], ...] = ()

    def fetch(self, network: Network) -> None:
        if self.parse:
            network.fetch_parse()
        for attachment, max_bytes in self.downloads:
            network.fetch_download(attachment, max_bytes)


@dataclass
class Turn:
    """Everything the dialogue manager may use to answer one inbound message."""

    session: Session
    services: Services
    conversation: Conversation
    inbound: Inbound
    now: datetime
    transcript: TurnTranscript
    network: Network = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    # True while the event is young: a turn that meets an NLU server that is still starting (or briefly
    # unreachable) is put back in the queue instead of answering with the degraded menu.
    wait_for_nlu: bool = False

    def __post_init__(self) -> None:
        if self.network is None:
            self.network = Network(self.services, self.inbound)

    def parse(self) -> Parse:
        return self.network.parse()
