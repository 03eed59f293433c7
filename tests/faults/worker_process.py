"""A worker process for the fault tests: the real Runner on DATABASE_URL, a short lease, a scripted dialogue.

The dialogue answers every message with its id (the engine itself is tested in tests/dialogue), after a
short pause so that kills land inside turns as well as between them.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from typing import Any

import flows.dialogue
from bot.config import Settings
from bot.messages import Reply
from bot.pipeline import worker
from bot.pipeline.runner import Runner
from bot.services import Services


def scripted(turn: Any) -> list[Reply]:
    time.sleep(random.uniform(0.01, 0.05))
    return [Reply.say(f"Đã nhận tin {turn.inbound.message_id}")]


def main() -> None:
    flows.dialogue.handle_turn = scripted  # type: ignore[assignment]
    flows.dialogue.preload = lambda data_dir: None  # type: ignore[assignment]
    worker.LEASE = timedelta(seconds=float(os.environ.get("FAULT_LEASE_SECONDS", "1")))
    services = Services.build(Settings.load())
    Runner(services, {}, processors=2, dispatchers=0).start().join()


if __name__ == "__main__":
    main()
