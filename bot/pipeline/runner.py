"""Processing and dispatch loops as threads: embedded in the app process, or in `motcua worker`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.notify import sender as notifications
from bot.notify.channels import describe
from bot.pipeline import dispatcher, worker
from bot.pipeline.store import EVENTS, NOTICES, OUTBOX, Wakeup
from bot.services import Services
from bot.turn import dialogue_of
from connectors.base import Connector, http_session
from connectors.http import PlatformSession

log = logging.getLogger(__name__)

# Events a processor claims at once (one per conversation), run in one transaction: the claim, the lease
# fence, the conversations' read, the transcript's INSERTs and the commit are paid once per round. The first
# event of a full round waits for the others' turns (a few milliseconds each): 8 kept the benchmark's
# throughput of 16 (benchmarks/forms.py) with shorter waits.
CLAIM_BATCH = 8
SEND_BATCH = 8  # outbox items a dispatcher claims at once
NOTIFY_BATCH = 8  # notifications the notifier claims at once (bot/notify/sender.py)
# Our own webhooks' events wake one idle loop at once; other processes' events are found at the next poll.
# (A LISTEN/NOTIFY wake-up across processes was tried: each event then woke a loop for a claim of one, and
# worker + database CPU per turn rose by a third on the shared 2-core machine; the poll batches claims.)
POLL_SECONDS = 0.25
# A process whose events come from other processes' webhooks (`motcua worker`) gets no nudge: while events
# keep coming it looks again soon after a round, and backs off to POLL_SECONDS (doubling) once they stop. With
# every round waiting out a whole poll, 40 citizens filling in forms got 0.64 of the NLU's rate on
# PostgreSQL, latency-bound with both cores idle part of the time.
BUSY_POLL_SECONDS = 0.01


class Runner:
    """N event processors and M dispatchers sharing one process's services (and so its dialogue)."""

    def __init__(self, services: Services, connectors: dict[str, Connector], *, processors: int = 2,
                 dispatchers: int = 1, nudged: bool = True) -> None:
        """`nudged`: this process's own webhooks store the events (the embedded set-up) and wake a loop."""
        self.services = services
        self.nudged = nudged
        self.connectors = connectors
        self.processors = processors
        self.dispatchers = dispatchers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._notifier: notifications.Sender | None = None

    def start(self) -> Runner:
        preload = getattr(dialogue_of(self.services), "preload", None)
        if self.processors and preload is not None:  # the catalogue and flows, before the first turn
            preload(self.services.settings.data_dir)
        for n in range(self.processors):
            processor = worker.Processor(self.services, self.connectors, CLAIM_BATCH)
            self._spawn(f"motcua-worker-{n}", processor.step, EVENTS, CLAIM_BATCH,
                        busy_poll=None if self.nudged else BUSY_POLL_SECONDS, last=processor.finish)
        for n in range(self.dispatchers):
            self._spawn(f"motcua-dispatcher-{n}", self._dispatch_step, OUTBOX, SEND_BATCH)
        if self.dispatchers:
            self._spawn("motcua-notifier", self._notify_step, NOTICES, NOTIFY_BATCH)
        log.info("pipeline started: %d processor(s), %d dispatcher(s), channels %s",
                 self.processors, self.dispatchers, ",".join(self.connectors))
        log.info("%s", describe(self.services.settings))
        return self

    def _spawn(self, name: str, step: Callable[[PlatformSession], int], wakeup: Wakeup, batch: int,
               busy_poll: float | None = None, last: Callable[[PlatformSession], None] | None = None) -> None:
        thread = threading.Thread(target=self._loop, args=(step, wakeup, batch, busy_poll, last), name=name,
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def _dispatch_step(self, http: PlatformSession) -> int:
        return dispatcher.dispatch_once(self.services, self.connectors, http, limit=SEND_BATCH)

    def _notify_step(self, http: PlatformSession) -> int:
        if self._notifier is None:
            self._notifier = notifications.Sender(self.services)
        return notifications.dispatch_once(self.services, http, self._notifier, limit=NOTIFY_BATCH)

    def _loop(self, step: Callable[[PlatformSession], int], wakeup: Wakeup, batch: int,
              busy_poll: float | None, last: Callable[[PlatformSession], None] | None) -> None:
        http = http_session()
        poll = POLL_SECONDS
        while not self._stop.is_set():
            try:
                taken = step(http)
                if taken >= batch:  # a full batch: there may be more, so an idle neighbour helps
                    wakeup.notify()
                if taken:
                    poll = busy_poll or POLL_SECONDS
                    continue
            except Exception:  # database hiccup: log, wait a little, carry on
                log.exception("pipeline loop error")
                time.sleep(1.0)
            wakeup.wait(poll)
            poll = min(poll * 2, POLL_SECONDS)
        if last is not None:
            try:
                last(http)
            except Exception:
                log.exception("pipeline loop error while stopping")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for wakeup in (EVENTS, OUTBOX, NOTICES):
            wakeup.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def join(self) -> None:
        """Block until interrupted (the `motcua worker` command)."""
        try:
            while any(t.is_alive() for t in self._threads):
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stop()
