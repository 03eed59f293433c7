"""The process-wide services one app or worker process needs, built once from `Settings`.

They also carry the dialogue manager every turn of the process runs (`dialogue`; None: `flows.dialogue`):
it is injected here once, so the web app, the embedded or separate workers and the console chat run the
same one, and tests hand theirs in the same way instead of swapping modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_session_factory
from nlu.client import NLUClient


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    nlu: NLUClient
    # The dialogue manager (a `bot.turn.Dialogue`); typed loosely, as flows sit above this layer.
    dialogue: Any = None

    @classmethod
    def build(cls, settings: Settings, dialogue: Any = None) -> Services:
        engine = make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            nlu=NLUClient(settings.rasa_url, timeout=settings.rasa_timeout),
            dialogue=dialogue,
        )
