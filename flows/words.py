"""Typed words that answer a step without a button, folded (no diacritics, lower case)."""

from __future__ import annotations

from typing import Any

DONE_WORDS = {"xong", "da xong", "het", "het roi", "du roi", "xong roi", "done", "hoan thanh", "khong con"}
NONE_WORDS = {"khong co", "khong ap dung", "khong", "khong can", "chua co"}
YES_WORDS = {
    "co", "dong y", "ok", "oke", "u", "uh", "vang", "da", "da dong y", "toi dong y", "yes", "dung",
    "dung roi", "nop", "nop ho so", "xac nhan", "chinh xac", "dong y nop",
}
NO_WORDS = {"khong", "khong dong y", "ko dong y", "tu choi", "no", "thoi"}
SKIP_WORDS = {"bo qua", "skip"}
EDIT_WORDS = {"sua", "sua lai", "sua thong tin", "chinh sua"}


def chosen(action: tuple[str, dict[str, Any]] | None) -> str | None:
    """The value a choice (or consent) button carries."""
    if action and action[0] in ("choose", "consent") and "value" in action[1]:
        return str(action[1]["value"])
    return None
