"""The form of address: how the bot calls the citizen ("anh/chị", "ông/bà", "bác" ...).

Every citizen-facing text, template or flow question, is written with "Anh/Chị" / "anh/chị". The agency
chooses its form (`address_form` in data/agency.yml) and a citizen may ask for their own ("gọi tôi là bác");
the one rendering step, where replies enter the transcript and the outbox (`bot.transcript`), substitutes it
with the right capitalisation. The bot keeps calling itself "em". Pure: no database, no agency file.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.messages import Button, Reply
from nlu.text import fold

DEFAULT_FORM = "anh/chị"
# The forms the bot may use (lower case, as written in a sentence), by their folded spelling. The first two
# suit an agency; the rest are what a citizen may ask to be called.
FORMS: dict[str, str] = {
    "anh/chi": "anh/chị", "anh chi": "anh/chị", "ong/ba": "ông/bà", "ong ba": "ông/bà",
    "anh": "anh", "chi": "chị", "ong": "ông", "ba": "bà", "bac": "bác", "co": "cô", "chu": "chú",
}
AGENCY_FORMS = ("anh/chị", "ông/bà")

_WRITTEN = re.compile(r"(?<![\w/])([Aa])nh/([Cc])hị(?![\w/])")
# "gọi tôi là bác", "cứ gọi mình là chú nhé", "xưng hô với tôi là ông", "em gọi bác bằng bác thôi"; at the
# start of the message, so "cán bộ gọi tôi là bác" (a complaint, say) is not a request to the bot.
_CALL_ME = re.compile(
    r"^(?:(?:da|vang|chao|xin|alo|em|admin|ban|oi|thi|cu|hay|con|chau|lam on|vui long) )*"
    r"(?:goi|xung ho voi|xung ho|xung) (?:(?:toi|minh|tao|bac|chu|co|ong|ba|em|anh|chi|nguoi ta) )?"
    r"(?:la|bang) (" + "|".join(sorted((re.escape(k) for k in FORMS), key=len, reverse=True)) + r")"
    r"(?= |$)")
_MAX_WORDS = 12  # a longer message is about something else


def capitalised(form: str) -> str:
    """ "ông/bà" -> "Ông/Bà", "bác" -> "Bác"."""
    return "/".join(part[:1].upper() + part[1:] for part in form.split("/"))


def address(message: str, form: str) -> str:
    """The text with "anh/chị" said as `form`: "Anh/Chị cần gì ạ?" -> "Bác cần gì ạ?"."""
    if form == DEFAULT_FORM or "/" not in message:
        return message
    big = capitalised(form)
    return _WRITTEN.sub(lambda m: big if m.group(1) == "A" else form, message)


def address_reply(reply: Reply, form: str) -> Reply:
    """A bot reply with its text and button titles in `form` (an officer's own words are left alone)."""
    if form == DEFAULT_FORM or reply.author != "bot":
        return reply
    buttons = tuple(Button(address(b.title, form), b.payload, b.url) for b in reply.buttons)
    return replace(reply, text=address(reply.text, form), buttons=buttons)


def asked_form(message: str) -> str | None:
    """The form a citizen asks to be called ("gọi tôi là bác nhé" -> "bác"), None when they ask none."""
    folded = fold(message)
    if not folded or len(folded.split()) > _MAX_WORDS:
        return None
    found = _CALL_ME.search(folded)
    return FORMS[found.group(1)] if found else None
