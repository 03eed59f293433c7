"""What may interrupt a flow's pending question, read from the words alone, before any NLU.

Two declared tables. `CONTROL`: phrases that always mean one thing inside a flow (go back, cancel, an
officer), whatever the step; matched on the folded message, the whole of it. `REQUEST_MARKERS`: words that a
name, an address or a place of birth does not contain but a question or a request does ("bao nhiêu",
"hồ sơ", "?"). A free-text answer without any of them is taken as the answer, with no NLU parse: "Trạm Y tế
xã Tiên Lãng, thành phố Hải Phòng" is a place of birth, not a question about fees. An answer with one of them
is sent to the NLU, which decides whether it is a question after all ("tra cứu hồ sơ" at a name step).
"""

from __future__ import annotations

import re

from nlu.text import fold

# Folded phrase -> what it asks for (an intent of the dialogue, or "back").
CONTROL: dict[str, str] = {
    **dict.fromkeys(("quay lai", "back", "tro lai", "quay lai buoc truoc", "lui lai", "quay lai cau truoc"),
                    "back"),
    **dict.fromkeys(("huy", "huy bo", "huy di", "thoi huy", "thoi huy di", "huy ho so", "dung lai"),
                    "cancel"),
    **dict.fromkeys(("gap can bo", "cho toi gap can bo", "cho em gap can bo", "toi muon gap can bo",
                     "gap nguoi that", "noi chuyen voi can bo"), "request_human"),
}

# Folded words and phrases of questions and requests (matched as whole words).
REQUEST_MARKERS = (
    # question words
    "bao nhieu", "bao lau", "bao gio", "gi", "the nao", "nhu nao", "lam sao", "tai sao", "o dau", "nao",
    "duoc khong", "co khong", "chua a", "co phai", "phai khong", "hoi", "cho hoi", "xin hoi",
    # what citizens ask about or ask for
    "ho so", "thu tuc", "le phi", "phi bao nhieu", "mat phi", "giay to", "tra cuu", "can bo", "huy", "xoa",
    "khieu nai", "muon", "nop", "lam giay", "dang ky", "nguoi hay may", "nguoi that",
    # greetings and thanks ("chào em" is two letter-words, so a valid name)
    "chao", "xin chao", "cam on", "cam ta", "alo",
)
_MARKERS = re.compile(r"(?:^| )(?:" + "|".join(re.escape(m) for m in REQUEST_MARKERS) + r")(?= |$)")


def control_word(message: str) -> str | None:
    """ "quay lại" -> "back", "hủy" -> "cancel", "gặp cán bộ" -> "request_human"; None otherwise."""
    return CONTROL.get(fold(message))


def may_be_a_request(message: str) -> bool:
    """True when a free-text answer has the shape of a question or a request (then the NLU decides)."""
    return "?" in message or _MARKERS.search(fold(message)) is not None
