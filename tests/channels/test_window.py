"""Messaging-window decisions (connectors/window.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.window import RETIRED_TAGS, decide

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def zalo(age: timedelta | None, purpose: str = "reply", message_id: str | None = "m1",
         tx: bool = False) -> str:
    last = NOW - age if age is not None else None
    return decide("zalo", purpose=purpose, author="bot", last_inbound_at=last,
                  last_inbound_message_id=message_id, now=NOW, zalo_transaction=tx).mode


def messenger(age: timedelta | None, author: str = "bot", purpose: str = "reply") -> tuple[str, str | None]:
    last = NOW - age if age is not None else None
    d = decide("facebook", purpose=purpose, author=author, last_inbound_at=last, last_inbound_message_id=None,
               now=NOW)
    return d.mode, d.tag


@pytest.mark.parametrize(("age", "purpose", "message_id", "tx", "mode"), [
    (timedelta(minutes=1), "reply", "m1", False, "reply"),
    (timedelta(hours=47, minutes=59), "notification", "m1", False, "reply"),
    (timedelta(hours=48, minutes=1), "reply", "m1", False, "cs"),
    (timedelta(hours=1), "reply", None, False, "cs"),  # no citizen message to address (follow event)
    (timedelta(days=6, hours=23), "staff", "m1", False, "cs"),
    (timedelta(days=7, minutes=1), "reply", "m1", True, "hold"),  # transaction only for notifications
    (timedelta(days=7, minutes=1), "notification", "m1", True, "transaction"),
    (timedelta(days=30), "notification", "m1", False, "hold"),
    (None, "notification", None, False, "hold"),
])
def test_zalo(age: timedelta | None, purpose: str, message_id: str | None, tx: bool, mode: str) -> None:
    assert zalo(age, purpose, message_id, tx) == mode


@pytest.mark.parametrize(("age", "author", "expected"), [
    (timedelta(hours=23, minutes=59), "bot", ("RESPONSE", None)),
    (timedelta(hours=2), "staff", ("RESPONSE", None)),  # inside 24 h no tag, even for staff
    (timedelta(hours=25), "bot", ("hold", None)),
    (timedelta(hours=25), "staff", ("HUMAN_AGENT", "HUMAN_AGENT")),
    (timedelta(days=6, hours=23), "staff", ("HUMAN_AGENT", "HUMAN_AGENT")),
    (timedelta(days=7, minutes=1), "staff", ("hold", None)),
    (None, "staff", ("hold", None)),
])
def test_messenger(age: timedelta | None, author: str, expected: tuple[str, str | None]) -> None:
    assert messenger(age, author) == expected


def test_never_a_retired_tag() -> None:
    ages = [timedelta(minutes=m) for m in range(0, 60 * 24 * 10, 97)]
    tags = {messenger(a, author, purpose)[1] for a in ages for author in ("bot", "staff")
            for purpose in ("reply", "notification", "staff")}
    assert tags <= {None, "HUMAN_AGENT"} and not tags & RETIRED_TAGS


def test_web_and_console_always_direct() -> None:
    for channel in ("web", "console"):
        d = decide(channel, purpose="notification", author="bot", last_inbound_at=None,
                   last_inbound_message_id=None, now=NOW)
        assert d.allowed and d.mode == "direct"
