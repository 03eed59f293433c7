"""Chat answers to procedure questions, composed from the catalogue for any of the 588 procedures.

Channel-neutral: every function returns `Reply` objects (bot.messages) that connectors render or
degrade. Replies are chat-sized (each text at most MAX_TEXT characters), lead with what a citizen
asks first (what it is, how long, how much), always link the portal page, and offer the natural
follow-up questions as buttons whose payloads are Rasa-style intents: '/ask_fee{"procedure":"1.001193"}'.
All wording lives in data/templates/catalog.yml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.catalog import competence
from bot.catalog.routing import Desk, route
from bot.catalog.store import COMMUNE_LEVEL, Catalog, Document, Mode, Procedure
from bot.config import DATA_DIR
from bot.messages import Button, Reply
from bot.templates import text
from nlu.text import fold

MAX_TEXT = 1000
ITEMS_PER_MESSAGE = 6
MAX_DOCUMENT_MESSAGES = 4
_ITEM_CHARS = 150
_GROUP_CHARS = 80
_NOTE_CHARS = 300  # notes are cut at a sentence end, never mid-way through the alternative they offer
_AGENCY_NAMES = 3
# Internal remarks of curators or the portal that must never reach a citizen as a fee or a note.
_INTERNAL = re.compile(r"^\s*(?:nguồn|source)\b", re.IGNORECASE)

INTENTS = ("ask_procedure", "ask_documents", "ask_fee", "ask_duration")
# The fields citizens ask about most, as (button label, words that identify the catalogue field).
COMMON_FIELDS: tuple[tuple[str, str], ...] = (
    ("Hộ tịch", "ho tich"),
    ("Cư trú", "cu tru"),
    ("Chứng thực", "chung thuc"),
    ("Hộ kinh doanh", "ho kinh doanh"),
    ("Xây dựng", "hoat dong xay dung"),
)
_MODE_ORDER = ("online", "postal", "in_person")
_UNITS = ("working_day", "day", "month", "hour")
_TIME_WORDS = re.compile(r"ngày|giờ|tháng|thời hạn|trả kết quả", re.IGNORECASE)


def payload(intent: str, **entities: str) -> str:
    """'/ask_fee{"procedure":"1.001193"}': the Rasa-style payload a button sends back."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def answer(intent: str, procedure: Procedure, accepted: Any = None) -> list[Reply]:
    """The reply to `intent` about `procedure`; a procedure the centre does not take through the chat
    is answered with where it is taken instead (see `not_handled_here`).

    `accepted` is the Agency (bot/agency.py: accepted procedures, hosted desks, address and hours), or
    only the accepted codes, or None when nothing is known about the centre."""
    builders = {
        "ask_procedure": procedure_info,
        "ask_documents": documents,
        "ask_fee": fee,
        "ask_duration": duration,
    }
    if intent not in builders:
        raise ValueError(f"not a procedure question: {intent}")
    replies = builders[intent](procedure, accepted)
    if not handled_here(procedure, accepted):
        replies.extend(not_handled_here(procedure, accepted, listed=intent == "ask_documents"))
    return replies


# --------------------------------------------------------------------------------------------
# ask_procedure


def procedure_info(procedure: Procedure, accepted: Any = None) -> list[Reply]:
    """One message: name, summary (curated) or result, time, fee, number of documents, link."""
    lines = [text("catalog.procedure_title", name=procedure.short_name, code=procedure.code)]
    if "name_mismatch" in procedure.anomalies:
        lines.append(text("catalog.name_unsure"))
    if procedure.summary:
        lines.append(_clip_sentences(procedure.summary, 450))
    elif procedure.result:
        lines.append(text("catalog.procedure_result", result=_clip(procedure.result.rstrip("."), 160)))
    lines.append(text("catalog.procedure_duration", duration=_compact(_duration_groups(procedure.modes))))
    lines.append(text("catalog.procedure_fee", fee=_compact(_fee_groups(procedure.modes))))
    count = len(_checklist_items(procedure)) or len(_paper_documents(procedure))
    if count:
        lines.append(text("catalog.procedure_documents", count=count))
    if not procedure.at_commune:
        lines.append(text("catalog.procedure_where", levels=_who(procedure)))
    elif procedure.agency_kind != competence.CENTRE:
        lines.append(text("catalog.where_other", agency=agency_name(procedure)))
    elif accepted is not None and Desk.of(accepted).receives(procedure):
        lines.append(text("catalog.where_centre", centre=_centre_name(accepted)))
    lines += _legal_lines(procedure)
    lines.append(text("catalog.details_link", url=procedure.url))
    return [Reply.say(_fit(lines), *_follow_ups(procedure, "ask_procedure", accepted))]


def _legal_lines(procedure: Procedure, limit: int = 2) -> list[str]:
    """The first legal bases, cleaned at import, as one short line (the portal page lists them all)."""
    items = []
    for lb in procedure.legal_basis[:limit]:
        title = _clip(lb.title, 70)
        items.append(title if lb.number and lb.number in title else f"{title} ({lb.number})")
    if not items:
        return []
    more = len(procedure.legal_basis) - len(items)
    tail = " " + text("catalog.legal_more", count=more) if more > 0 else ""
    return [text("catalog.legal_basis", items="; ".join(items)) + tail]


# --------------------------------------------------------------------------------------------
# ask_documents


def documents(procedure: Procedure, accepted: Any = None) -> list[Reply]:
    """The document list, numbered, at most ITEMS_PER_MESSAGE per message; the curated checklist
    (with upload / in person / in chat marks where the chat takes the dossier) when there is one."""
    in_chat = handled_here(procedure, accepted)
    checklist = _checklist_items(procedure, marks=in_chat)
    if checklist:
        items: list[tuple[str | None, str]] = [(None, line) for line in checklist]
        key = "catalog.documents_intro_checklist" if in_chat else "catalog.documents_intro_prepare"
        intro = text(key, name=procedure.short_name, count=len(items))
    else:
        items = [(_group_label(d.group), _document_line(d)) for d in _paper_documents(procedure)]
        intro = text("catalog.documents_intro", name=procedure.short_name, count=len(items))
    link = text("catalog.details_link", url=procedure.url)
    buttons = _follow_ups(procedure, "ask_documents", accepted)
    if not items:
        return [Reply.say(_fit([text("catalog.documents_none", name=procedure.short_name), link]), *buttons)]

    messages: list[list[str]] = [[intro]]
    group: str | None = None
    in_message = 0
    shown = 0
    budget = MAX_TEXT - len(link) - 80
    for number, (item_group, line) in enumerate(items, start=1):
        size = len("\n".join(messages[-1])) + len(line) + 8 + len(item_group or "")
        if in_message == ITEMS_PER_MESSAGE or (in_message and size > budget):
            if len(messages) == MAX_DOCUMENT_MESSAGES:
                break
            messages.append([])
            in_message = 0
        if item_group and item_group != group:
            messages[-1].append(f"{item_group}:")
        group = item_group or group
        messages[-1].append(f"{number}. {line}")
        in_message += 1
        shown += 1
    if len(items) > shown:
        messages[-1].append(text("catalog.documents_more", count=len(items) - shown))
    messages[-1].append(link)
    replies = [Reply.say(_fit(lines)) for lines in messages]
    replies[-1] = Reply.say(replies[-1].text, *buttons)
    return replies


def _paper_documents(procedure: Procedure) -> list[Document]:
    """Documents to bring or send: rows that are only remarks ("0 bản chính") are left out."""
    return [d for d in procedure.documents if not d.is_note]


def _document_line(doc: Document) -> str:
    quantity = f" ({doc.quantity})" if doc.quantity else ""
    return _clip(doc.name.rstrip(" .;:"), _ITEM_CHARS) + quantity


def _group_label(group: str | None) -> str | None:
    if not group or len(group) > _GROUP_CHARS or fold(group) in {"luu y", "thanh phan ho so"}:
        return None
    return group.rstrip(" :")


def _checklist_items(procedure: Procedure, *, marks: bool = True) -> list[str]:
    """Curated checklist lines; the 📷/🏢/✍️ marks only where the dossier is given in this chat."""
    out = []
    for item in procedure.checklist:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        how = str(item.get("how") or "")
        marked = marks and how in ("upload", "in_person", "fill_in_chat")
        mark = text(f"catalog.how_{how}") + " " if marked else ""
        line = mark + _clip(str(item["name"]).rstrip(" .;:"), _ITEM_CHARS)
        if item.get("required") is False:
            line += f" ({text('catalog.documents_optional')})"
        if item.get("note") and not _INTERNAL.match(str(item["note"])):
            line += f" — {_clip_sentences(str(item['note']), _NOTE_CHARS)}"
        out.append(line)
    return out


# --------------------------------------------------------------------------------------------
# ask_fee / ask_duration


def fee(procedure: Procedure, accepted: Any = None) -> list[Reply]:
    lines = [text("catalog.fee_intro", name=procedure.short_name), *_per_mode(procedure.modes, fee_value)]
    notes = _fee_notes(procedure)
    lines += notes
    lines.append(text("catalog.details_link", url=procedure.url))
    return [Reply.say(_fit(lines), *_follow_ups(procedure, "ask_fee", accepted))]


def duration(procedure: Procedure, accepted: Any = None) -> list[Reply]:
    lines = [text("catalog.duration_intro", name=procedure.short_name),
             *_per_mode(procedure.modes, duration_value)]
    if _unit_assumed(procedure):
        lines.append(text("catalog.duration_unit_assumed"))
    lines += _mode_notes(procedure.modes, lambda note: bool(_TIME_WORDS.search(note)))
    lines.append(text("catalog.details_link", url=procedure.url))
    return [Reply.say(_fit(lines), *_follow_ups(procedure, "ask_duration", accepted))]


def _unit_assumed(procedure: Procedure) -> bool:
    """The portal gave a bare number and no curator has confirmed the unit since."""
    if "duration_without_unit" not in procedure.anomalies:
        return False
    curated = [m for m in (procedure.curated or {}).get("modes") or () if isinstance(m, dict)]
    if not curated:
        return True
    return any((m.get("duration") or {}).get("unit_stated") is False for m in curated)


def _mode_notes(modes: Sequence[Mode], wanted: Any) -> list[str]:
    """Curated per-mode remarks, as 'Trực tiếp: ...' lines (at most one per mode)."""
    seen: dict[str, str] = {}
    for m in modes:
        if m.note and m.mode not in seen and wanted(m.note) and not _INTERNAL.match(m.note):
            seen[m.mode] = m.note
    return [text("catalog.mode_note", modes=_mode_names([mode]),
                 note=_clip_sentences(amounts_for_circulars(note), _NOTE_CHARS))
            for mode, note in seen.items() if not _INTERNAL.match(note)]


def duration_value(mode: Mode) -> str:
    """'1 ngày làm việc', '3 giờ', 'trong ngày' (value 0), or that the portal gives no time."""
    if mode.duration_value is None:
        return text("catalog.duration_unknown")
    value = mode.duration_value
    if value == 0:
        # Same-day procedures (chứng thực: Điều 7 NĐ 23/2015): "0 ngày" would read as a typo.
        return text("catalog.duration_same_day")
    number = str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")
    unit = mode.duration_unit or "working_day"
    if unit not in _UNITS:
        return mode.duration_text or number
    return f"{number} {text(f'catalog.unit_{unit}')}"


def fee_value(mode: Mode) -> str:
    """'Miễn phí', '20.000 đồng', '2.000 đồng/trang', '10 USD/bản' or that it is not known."""
    headline, note = _split_fee_text(mode.fee_text)
    per = note if note.startswith("/") and len(note) <= 30 else ""
    if mode.fee_text and _INTERNAL.match(mode.fee_text):
        return text("catalog.fee_unknown")
    if mode.curated and mode.fee_text and not re.fullmatch(r"[\d.,]+\s*(đồng|VNĐ|đ)?", mode.fee_text):
        # a curator's wording ("2.000 đồng/trang, ...") says more
        return _clip(amounts_for_circulars(mode.fee_text), 160)
    if mode.fee_amount == 0:
        return text("catalog.fee_free")
    if mode.fee_amount is not None:
        return text("catalog.fee_amount", amount=f"{mode.fee_amount:,}".replace(",", ".")) + per
    if headline.endswith("USD"):
        return headline + per
    if not headline or headline == "Không có thông tin":
        return text("catalog.fee_unknown")
    return text("catalog.fee_unsure", text=headline)


def _split_fee_text(fee_text: str) -> tuple[str, str]:
    m = re.match(r"^(.*?)\s*\((.*)\)\s*$", fee_text or "", re.DOTALL)
    return (m.group(1).strip(), m.group(2).strip()) if m else ((fee_text or "").strip(), "")


@lru_cache(maxsize=2)
def _circulars(data_dir: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """data/catalog/fees.yml: '... theo quy định tại Thông tư số 281/2016/TT-BTC ngày ...' -> the amount."""
    path = Path(data_dir) / "catalog" / "fees.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out = []
    for number, amount in ((raw or {}).get("circulars") or {}).items():
        cited = (r"(?:(?:được\s+)?thực hiện\s+)?theo(?:\s+quy định)?(?:\s+tại)?\s+"
                 rf"(?:Thông tư|TT)(?:\s+số)?\s+{re.escape(str(number))}"
                 r"(?:\s+ngày\s+[\d/]+)?(?:\s+của\s+Bộ\s+Tài\s+chính)?")
        out.append((re.compile(cited, re.IGNORECASE), str(amount)))
    return tuple(out)


def amounts_for_circulars(note: str) -> str:
    """A fee note citing a circular gets its amount: "... theo TT 281/2016/TT-BTC" -> "8.000 đồng/bản"."""
    for pattern, amount in _circulars(str(DATA_DIR)):
        note = pattern.sub(amount, note)
    return note


def _fee_notes(procedure: Procedure) -> list[str]:
    if any(m.note for m in procedure.modes):
        return _mode_notes(procedure.modes, lambda note: "phí" in note.lower())
    if "fee_set_locally" in procedure.anomalies:
        return [text("catalog.fee_local_note")]
    notes = [_split_fee_text(m.fee_text)[1] for m in procedure.modes]
    notes = [n for n in dict.fromkeys(notes) if n and not n.startswith("/")]
    notes = [amounts_for_circulars(n) for n in notes if not _INTERNAL.match(n)]
    return [text("catalog.fee_note", note=_clip_sentences(notes[0], _NOTE_CHARS))] if notes else []


def _duration_groups(modes: Sequence[Mode]) -> list[tuple[str, list[str]]]:
    return _group(modes, duration_value)


def _fee_groups(modes: Sequence[Mode]) -> list[tuple[str, list[str]]]:
    return _group(modes, fee_value)


def _group(modes: Sequence[Mode], value_of: Any) -> list[tuple[str, list[str]]]:
    """[(value, [mode, ...])] in first-seen order; each mode listed once per value."""
    groups: dict[str, list[str]] = {}
    for m in modes:
        modes_for_value = groups.setdefault(value_of(m), [])
        if m.mode not in modes_for_value:
            modes_for_value.append(m.mode)
    return list(groups.items())


def _per_mode(modes: Sequence[Mode], value_of: Any) -> list[str]:
    """Lines of values by mode. When one mode has several rows with different values (e.g. at the
    commune vs. at an embassy), each row is listed with the start of its portal description."""
    groups = _group(modes, value_of)
    repeated = sum(len(g) for _, g in groups) > len({m.mode for m in modes})
    if not repeated:
        return _mode_lines(groups)
    lines = []
    for m in modes:
        hint = f" ({_clip(m.description, 70)})" if m.description else ""
        line = text("catalog.mode_line", modes=_mode_names([m.mode]), value=value_of(m)) + hint
        if line not in lines:
            lines.append(line)
    return lines


def _mode_names(modes: Iterable[str]) -> str:
    ordered = sorted(modes, key=lambda m: _MODE_ORDER.index(m) if m in _MODE_ORDER else 9)
    names = ", ".join(text(f"catalog.mode_{m}") for m in ordered)
    return names[:1].upper() + names[1:]


def _mode_lines(groups: list[tuple[str, list[str]]]) -> list[str]:
    if not groups:
        return [text("catalog.mode_line", modes="", value=text("catalog.duration_unknown")).lstrip("- :")]
    if len(groups) == 1:
        line = text("catalog.mode_all", value=groups[0][0])
        return [line[:1].upper() + line[1:]]
    return [text("catalog.mode_line", modes=_mode_names(modes), value=value) for value, modes in groups]


def _compact(groups: list[tuple[str, list[str]]]) -> str:
    """The same groups on one line, for the overview message."""
    if not groups:
        return text("catalog.duration_unknown")
    if len(groups) == 1:
        return groups[0][0]
    return "; ".join(f"{_mode_names(modes).lower()}: {value}" for value, modes in groups)


# --------------------------------------------------------------------------------------------
# Procedures the centre does not handle, unclear or missing procedure


def handled_here(procedure: Procedure, accepted: Any = None) -> bool:
    """Taken through the chat here: at commune level, of this centre (or a desk it hosts) and, when the
    agency is known, listed as accepted. Without an agency, a procedure of the commune counts."""
    if not procedure.at_commune:
        return False
    if accepted is None:
        return procedure.agency_kind == competence.CENTRE
    return route(procedure, accepted) == "bot"


def agency_name(procedure: Procedure) -> str:
    """The competent agency as the portal names it ("Công an cấp xã", "Chi cục Hải quan khu vực"), the
    nearest office first, else the kind's label from data/catalog/agencies.yml."""
    names = list(procedure.agency_names[:_AGENCY_NAMES])
    if not names:
        return competence.load_table().label(procedure.agency_kind)
    return f" {text('catalog.level_or')} ".join(names)


def channels(procedure: Procedure) -> str:
    """'ứng dụng VNeID, Cổng dịch vụ công Bộ Công an (https://…), Cổng Dịch vụ công quốc gia (<page>)'."""
    table = competence.load_table()
    parts = []
    for cid in procedure.channels:
        channel = table.channels.get(cid)
        if not channel:
            continue
        url = procedure.url if cid == "national_portal" else str(channel.get("url") or "")
        parts.append(f"{channel.get('name')} ({url})" if url else str(channel.get("name")))
    return ", ".join(parts)


def not_handled_here(procedure: Procedure, accepted: Any = None, *, asked_to_submit: bool = False,
                     listed: bool = False) -> list[Reply]:
    """Where it is taken instead: another level, another agency (named, with its online channels and
    the offer of a checklist), or this centre in person (address and hours). Never "nộp tại Trung tâm"
    for a procedure of another agency. `listed`: the documents were just listed, so no checklist offer."""
    lines = [text("catalog.submit_not_in_chat")] if asked_to_submit else []
    portal = Button(title=text("catalog.button_portal"), url=procedure.url)
    human = Button(title=text("catalog.button_human"), payload=payload("request_human"))
    checklist = Button(title=text("catalog.button_documents"), payload=payload("ask_documents",
                                                                                procedure=procedure.code))
    online = channels(procedure)
    if not procedure.at_commune:
        lines.append(text("catalog.not_commune", name=procedure.short_name, who=_who(procedure),
                          url=procedure.url))
        return [Reply.say(_fit(lines), portal, human)]
    if route(procedure, accepted) == "other_agency":
        lines.append(text("catalog.other_agency", name=procedure.short_name, agency=agency_name(procedure)))
        if online:
            lines.append(text("catalog.other_online", channels=online))
        if any(m.mode == "in_person" for m in procedure.modes) or not online:
            lines.append(text("catalog.other_in_person", agency=agency_name(procedure)))
        offer = not listed and bool(procedure.checklist or _paper_documents(procedure))
        if offer:
            lines.append(text("catalog.other_checklist"))
        lines.append(text("catalog.details_link", url=procedure.url))
        return [Reply.say(_fit(lines), *((checklist,) if offer else ()), portal, human)]
    lines.append(text("catalog.in_person_only", name=procedure.short_name, centre=_centre_name(accepted)))
    address = getattr(accepted, "address", "")
    if address:
        lines.append(text("catalog.in_person_address", address=address))
    hours = accepted.hours_text() if hasattr(accepted, "hours_text") else ""
    if hours:
        lines.append(text("catalog.in_person_hours", hours=hours))
    if online:
        lines.append(text("catalog.in_person_online", channels=online))
    lines.append(text("catalog.details_link", url=procedure.url))
    return [Reply.say(_fit(lines), *(() if listed else (checklist,)), portal, human)]


def where(procedure: Procedure, accepted: Any = None, *, asked_to_submit: bool = False) -> list[Reply]:
    """'Nộp ở đâu?': the place for this procedure at this centre, whatever its route."""
    if not handled_here(procedure, accepted):
        return not_handled_here(procedure, accepted, asked_to_submit=asked_to_submit)
    lines = [text("catalog.where_bot", name=procedure.short_name, centre=_centre_name(accepted))]
    address = getattr(accepted, "address", "")
    if address:
        lines.append(text("catalog.in_person_address", address=address))
    lines.append(text("catalog.details_link", url=procedure.url))
    return [Reply.say(_fit(lines), *_follow_ups(procedure, "ask_procedure", accepted))]


def _centre_name(accepted: Any) -> str:
    return str(getattr(accepted, "name", "") or text("catalog.centre_generic"))


def _who(procedure: Procedure) -> str:
    labels = {
        "Cấp bộ": "catalog.level_ministry",
        "Cấp tỉnh": "catalog.level_province",
        COMMUNE_LEVEL: "catalog.level_commune",
        "Cơ quan khác": "catalog.level_other",
    }
    others = [lv for lv in procedure.levels if lv != COMMUNE_LEVEL] or list(procedure.levels)
    names = [text(labels[lv]) if lv in labels else lv for lv in others]
    return f" {text('catalog.level_or')} ".join(dict.fromkeys(names)) or text("catalog.level_other")


def disambiguate(candidates: Sequence[Any], intent: str = "ask_procedure",
                 catalog: Catalog | None = None) -> Reply:
    """'Anh/Chị muốn hỏi thủ tục nào ạ?' with up to 3 candidates as buttons.

    A candidate is a Procedure, an object with `code` and `name` (nlu Candidate) or a dict with
    those keys; the short name from the catalogue is shown when available.
    """
    intent = intent if intent in INTENTS else "ask_procedure"
    lines = [text("catalog.disambiguate")]
    buttons = []
    for number, candidate in enumerate(candidates[:3], start=1):
        code, name = _code_name(candidate, catalog)
        lines.append(f"{number}. {_clip(name, 150)}")
        buttons.append(Button(title=_clip(name, 60), payload=payload(intent, procedure=code)))
    return Reply.say(_fit(lines), *buttons)


def _code_name(candidate: Any, catalog: Catalog | None) -> tuple[str, str]:
    if isinstance(candidate, dict):
        code, name = str(candidate["code"]), str(candidate.get("name") or candidate["code"])
    else:
        code, name = str(candidate.code), str(getattr(candidate, "short_name", None) or candidate.name)
    known = catalog.get(code) if catalog is not None else None
    return code, known.short_name if known else name


def ask_which_procedure() -> Reply:
    """No procedure named: ask, with the most common fields as buttons."""
    buttons = [Button(title=label, payload=payload("ask_procedure", field=label))
               for label, _ in COMMON_FIELDS]
    return Reply.say(text("catalog.ask_which"), *buttons)


def field_procedures(field_label: str, catalog: Catalog, accepted: Any = None, limit: int = 5) -> Reply:
    """Answer to a field button: that field's procedures, curated and accepted ones first."""
    accepted = Desk.of(accepted).accepted if accepted is not None else None
    key = dict(COMMON_FIELDS).get(field_label, fold(field_label))
    matching = [p for p in catalog.all() if key in fold(p.field) and p.at_commune]
    # Curated and accepted first; then shorter names, which are the base procedures rather than
    # their variants ("... có yếu tố nước ngoài", "... lưu động").
    matching.sort(key=lambda p: (p.curated is None, accepted is not None and p.code not in accepted,
                                 len(p.short_name), p.code))
    if not matching:
        return Reply.say(text("catalog.field_empty", field=field_label))
    lines = [text("catalog.field_pick", field=field_label)]
    buttons = []
    for number, p in enumerate(matching[:limit], start=1):
        lines.append(f"{number}. {_clip(p.short_name, 120)}")
        buttons.append(Button(title=_clip(p.short_name, 60),
                              payload=payload("ask_procedure", procedure=p.code)))
    return Reply.say(_fit(lines), *buttons)


# --------------------------------------------------------------------------------------------
# Shared pieces


def _follow_ups(procedure: Procedure, asked: str, accepted: Any) -> tuple[Button, ...]:
    """The natural next questions: the other facts, and submitting when the centre accepts it."""
    options = [
        ("ask_documents", "catalog.button_documents"),
        ("ask_fee", "catalog.button_fee"),
        ("ask_duration", "catalog.button_duration"),
        ("ask_procedure", "catalog.button_procedure"),
    ]
    buttons = [Button(title=text(key), payload=payload(intent, procedure=procedure.code))
               for intent, key in options if intent != asked]
    if accepted is not None and handled_here(procedure, accepted):
        buttons = [*buttons[:2], Button(title=text("catalog.button_submit"),
                                        payload=payload("submit_dossier", procedure=procedure.code))]
    return tuple(buttons[:3])


def _clip(value: str, limit: int) -> str:
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value.rfind(" ", 0, limit - 1)
    return value[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:") + "…"


def _clip_sentences(value: str, limit: int) -> str:
    """Whole sentences up to `limit` characters (a cut word-wise only if the first is longer)."""
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    end = max(value.rfind(". ", 0, limit), value.rfind("; ", 0, limit))
    return value[: end + 1] if end > limit // 3 else _clip(value, limit)


def _fit(lines: list[str]) -> str:
    """Join lines into one message of at most MAX_TEXT characters, keeping the last line (the
    portal link) and shortening the longest lines first."""
    lines = [line for line in lines if line]
    joined = "\n".join(lines)
    while len(joined) > MAX_TEXT:
        head = lines[:-1]
        longest = max(range(len(head)), key=lambda i: len(head[i])) if head else None
        if longest is None or len(head[longest]) <= 40:
            return joined[: MAX_TEXT - 1] + "…"
        excess = len(joined) - MAX_TEXT
        lines[longest] = _clip(head[longest], max(40, len(head[longest]) - excess - 1))
        joined = "\n".join(lines)
    return joined
