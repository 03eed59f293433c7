"""What a request asks for, from declared words: the wish to submit, and the question when the NLU is down.

"em muốn đăng ký khai sinh cho con", "nộp hồ sơ kết hôn", "làm giấy khai tử cho bố": a procedure named with
the wish to do it starts its flow at once, whatever the classifier's confidence (it is often low on these,
and the citizen should not have to ask twice). A question about the procedure ("làm giấy khai tử cần gì",
"đăng ký kết hôn ở đâu") is not a wish to submit: it is answered.

When the NLU server is down (the degraded mode), the same tables and the procedure index of `nlu.matching`
read the request locally: a wish to submit, or which question it asks (`QUESTIONS`), so a citizen still gets
an answer instead of only the menu. All phrases are folded (nlu.text.fold) and matched as whole words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from nlu.matching import ProcedureIndex
from nlu.text import fold

# Words that say "I want to do it" ("làm" alone counts only with a procedure named and no question).
SUBMIT_WISH = (
    "muon dang ky", "muon lam", "muon nop", "muon xin", "can lam", "can dang ky", "can nop",
    "nop ho so", "nop hs", "nop don", "lam ho so", "lam thu tuc", "lam giay", "lam", "xin cap",
    "cho toi dang ky", "cho em dang ky", "cho minh dang ky", "dang ky giup", "dang ky cho", "dang ky online",
    "dang ky truc tuyen", "nop truc tuyen", "nop online", "lam online",
)
# Words that make it a question (then it is answered, not started), and which question (degraded mode).
# Order matters: the first intent whose words occur wins ("lệ phí ... bao lâu" asks the fee first).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "ask_fee": ("le phi", "phi", "bao nhieu tien", "mat bao nhieu", "het bao nhieu", "tien"),
    "ask_duration": ("bao lau", "may ngay", "bao nhieu ngay", "khi nao co", "bao gio co", "thoi gian"),
    "ask_documents": ("giay to", "can gi", "can nhung", "nhung gi", "ho so gom", "can mang", "mang gi",
                      "chuan bi"),
    "ask_office": ("o dau", "cho nao", "dia chi", "gio lam viec", "may gio"),
    "ask_procedure": ("the nao", "nhu the nao", "nhu nao", "lam sao", "ra sao", "cach nao", "thu tuc gi",
                      "gi", "cho hoi", "xin hoi", "muon hoi", "em hoi", "toi hoi", "tai sao", "vi sao",
                      "khi nao", "duoc khong", "co khong", "phai khong", "co phai", "khong a", "chua a"),
}
# A question particle closing the message: "... được không", "... chưa".
_CLOSING = re.compile(r"(?:^| )(?:khong|chua|ha|a|nhi)$")


def _pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?:^| )(?:" + "|".join(re.escape(p) for p in phrases) + r")(?= |$)")


_WISH = _pattern(SUBMIT_WISH)
_QUESTION = {intent: _pattern(words) for intent, words in QUESTIONS.items()}


def asks(message: str) -> str | None:
    """The question a message asks ("ask_fee" ...), None when it asks none."""
    folded = fold(message)
    for intent, pattern in _QUESTION.items():
        if pattern.search(folded):
            return intent
    return "ask_procedure" if "?" in message or _CLOSING.search(folded) else None


def wants_to_submit(message: str) -> bool:
    """Whether the words say the citizen wants to do it (and do not ask a question about it)."""
    return _WISH.search(fold(message)) is not None and asks(message) is None


@lru_cache(maxsize=2)
def _index(data_dir: str) -> ProcedureIndex:
    return ProcedureIndex.load(Path(data_dir))


def procedure_named(message: str, data_dir: Path) -> tuple[str, float] | None:
    """The one procedure the message clearly names (code, score), by the matcher the NLU's linker uses."""
    match = _index(str(data_dir)).link(message)
    return (match.code, match.score) if match else None
