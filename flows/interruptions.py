"""What may interrupt a flow's pending question, and in which order: declared here, handled by the dialogue.

Inside a flow a message is read in one order of precedence (`flows.dialogue.in_flow`):
  1. a button: the step's own buttons, else the intent it carries (`PATTERNS` says how it is handled);
  2. a control word (`CONTROL`): go back, cancel, an officer; no NLU;
  3. a correction: "sửa <field>" names an answered field (`flows.kinds.confirm.field_named`);
  4. the pending step's own reading: a value it takes is the answer, with no NLU parse unless a free-text
     answer reads like a request (`REQUEST_MARKERS`);
  5. the NLU, once: an interruption in `PATTERNS` (stricter while a free-text answer was also valid), an
     intent that stands for the step's button ("vâng" at the consent), then greetings after a break;
  6. otherwise the answer is invalid: say why and ask again.

The tables below are the words and intents of steps 2, 4 and 5.

`CONTROL`: phrases that always mean one thing inside a flow (go back, cancel, an officer), whatever the
step; matched on the folded message, the whole of it. `REQUEST_MARKERS`: words that a name, an address or a
place of birth does not contain but a question or a request does ("bao nhiêu", "hồ sơ", "?"). A free-text
answer without any of them is taken as the answer, with no NLU parse: "Trạm Y tế xã Tiên Lãng, thành phố Hải
Phòng" is a place of birth, not a question about fees. An answer with one of them is sent to the NLU, which
decides whether it is a question after all ("tra cứu hồ sơ" at a name step). `PATTERNS`: the intents that
interrupt, how each is handled and when typed words may mean it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    "bao nhieu", "bao lau", "bao gio", "khi nao", "may ngay", "gi", "the nao", "nhu nao", "lam sao",
    "tai sao", "o dau", "nao",
    "duoc khong", "co khong", "chua a", "co phai", "phai khong", "hoi", "cho hoi", "xin hoi",
    # what citizens ask about or ask for
    "ho so", "thu tuc", "le phi", "phi bao nhieu", "mat phi", "giay to", "ket qua", "tra cuu", "can bo",
    "huy", "xoa",
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


@dataclass(frozen=True)
class Pattern:
    """An intent that interrupts a flow: how the dialogue handles it, and when words may mean it.

    `handle` names a handler of `flows.dialogue.HANDLERS`. `typed`: whether typed words (not only a button)
    may interrupt with it. `over_free_text`: when a free-text answer that is also a valid value is read as
    this instead: "never", "question" ("?" or a very sure NLU) or "sure" (a sure NLU).
    """

    intent: str
    handle: str
    typed: bool = True
    over_free_text: str = "sure"


SURE = 0.8  # NLU confidence for "sure"
VERY_SURE = 0.9  # ... and for a question without "?"

SIDE_QUESTIONS = ("ask_procedure", "ask_fee", "ask_documents", "ask_duration", "ask_office")
PATTERNS: dict[str, Pattern] = {p.intent: p for p in (
    Pattern("cancel", "cancel"),
    Pattern("request_human", "entry_point"),
    Pattern("delete_data", "delete_data"),
    Pattern("bot_challenge", "bot_challenge"),
    # An address or a name can read like a grievance to the classifier; a citizen who wants to complain
    # mid-form still can ("gặp cán bộ", "hủy"), and the complaint flow is one tap away.
    Pattern("complaint", "entry_point", over_free_text="never"),
    Pattern("check_status", "entry_point", over_free_text="question"),
    *(Pattern(intent, "side_question", over_free_text="question") for intent in SIDE_QUESTIONS),
    # chit-chat and buttons of earlier answers: never an interruption when typed
    Pattern("submit_dossier", "submit_button", typed=False),
    Pattern("greet", "greet", typed=False),
    *(Pattern(intent, "resume", typed=False) for intent in ("thank", "goodbye", "affirm", "deny")),
)}


def interrupts(intent: str, confidence: float, message: str, *, free_text: bool) -> bool:
    """Whether typed words the NLU read as `intent` interrupt the flow (`free_text`: they were also a
    valid answer to the pending step)."""
    pattern = PATTERNS.get(intent)
    if pattern is None or not pattern.typed:
        return False
    if pattern.over_free_text == "question" and not free_text:
        # Not a valid answer either, yet it must still read like a question: a wrong answer ("Trạm Y tế xã
        # Tiên Lãng, thành phố Hải Phòng" at the child's sex) can look like a fee question to the classifier.
        return may_be_a_request(message)
    if not free_text:
        return True
    if pattern.over_free_text == "question":
        return "?" in message or confidence >= VERY_SURE
    return pattern.over_free_text == "sure" and confidence >= SURE
