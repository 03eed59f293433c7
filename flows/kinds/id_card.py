"""Reading the ID card's QR code in a flow: the offer after the consent, and a photo at a person's fields.

`- id_card` (implied, see flows.card): "send a photo of the card's QR side, or type the details". A photo
there, or at any `<person>_...` question of a person the flow asks an ID number for, is decoded
(bot.idcard); the reading is shown like the flow's summary, with the flow's labels, and:
  "Đúng"  fills the fields (each checked by the flow's own validator) and their questions are skipped;
  "Sửa"   corrects one field (typed, checked like the question) or drops the reading to type them all.
The photo is read in memory and not stored, unless the flow has a document that is a copy of this person's
card (`card_of`, flows.card): then it is stored like that document's files (`active["card"]["photo"]`),
kept on "Đúng" for that document (`active["card_copies"]`, filed by flows.kinds.documents) and deleted
otherwise (flows.context.Context.drop_card_photos). Only confirmed fields enter the slots, and
`active["sources"]` keeps, per field, the value that came from the card (the dossier says which fields
were read from the card and confirmed). State while a reading waits: `active["card"]`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.agency import local_today
from bot.document import Refusal, accept_upload
from bot.idcard import CardError, decode, parse
from bot.messages import Attachment, Button, Inbound, Reply
from bot.retention import CARD_COPIES, discard_web_upload
from bot.templates import text
from flows.card import CardOffer, PersonField, copy_document
from flows.context import NEXT, Answer, Context, chunk_buttons, payload
from flows.kinds.base import Action, StepKind
from flows.kinds.collect import Collect, validate
from flows.kinds.documents import max_bytes
from flows.steps import Flow
from flows.validators import PROVINCE_CODES
from flows.words import EDIT_WORDS, YES_WORDS
from nlu.text import fold

log = logging.getLogger(__name__)

ACTION = "card"  # button payload name (flows.dialogue.ENGINE_ACTIONS)
MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 3
TYPE_WORDS = {"tu nhap", "nhap tay", "tu go", "go tay", "nhap", "tu nhap tat ca", "khong co the",
              "khong co anh"}
SOURCES = "sources"  # active[SOURCES]: {slot: value as read from the card and confirmed}


def card_fields(flow: Flow, person: str) -> list[PersonField]:
    """The person's card fields the flow asks, in flow order (one per slot)."""
    seen: dict[str, PersonField] = {}
    for step in flow.steps:
        if isinstance(step, PersonField) and step.person == person:
            seen.setdefault(step.id, step)
    return list(seen.values())


def _offered(active: dict[str, Any]) -> list[str]:
    return active.setdefault("card_offered", [])


def _pending(active: dict[str, Any], person: str) -> dict[str, Any] | None:
    card = active.get("card")
    return card if isinstance(card, dict) and card.get("person") == person else None


# ---------------------------------------------------------------- reading a photo


def read_photo(ctx: Context, person: str, inbound: Inbound) -> Answer:
    """Decode the photo(s) and show what the card says; a specific hint when it cannot be read."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    hint = "qr_side"
    card = None
    if inbound.channel == "web":  # a web-chat upload was saved to be read: delete it once this turn commits
        for attachment in inbound.attachments:
            discard_web_upload(ctx.turn.session, ctx.turn.services.settings, inbound.user_id, attachment.url)
    for attachment in inbound.attachments[:MAX_PHOTOS]:
        try:
            data = ctx.turn.network.download(attachment, MAX_BYTES)  # fetched before the transaction
        except Refusal as refusal:
            return Answer(False, hint=refusal.message())
        decoded = decode(data)
        hint = decoded.hint or hint
        for found in decoded.texts:
            try:
                card = parse(found, local_today(ctx.now), PROVINCE_CODES)
                break
            except CardError as error:
                hint = "not_card" if error.reason == "not_card" else "misread"
        if card is not None:
            photo = data  # the card's photo: kept only for a copy of the card (_keep_for_copy)
            break
        del data  # the photo is not kept: not an ID card, or not readable
    if card is None:
        log.info("id card not read conversation=%s hint=%s", ctx.turn.conversation.id, hint)
        return Answer(False, hint=f"idcard.hint_{hint}")
    values = card.values()
    read: dict[str, list[Any]] = {}
    refused: dict[str, str] = {}
    missing: list[str] = []
    for step in card_fields(flow, person):
        raw = values.get(step.suffix)
        if raw is None:
            missing.append(step.id)
            continue
        ok, value, display, why = validate(ctx.now, step, raw)
        if ok:
            read[step.id] = [value, display]
        else:
            refused[step.id] = why or step.hint or text("dialogue.hint_invalid")
    if not read:
        return Answer(False, hint="idcard.hint_misread")
    ctx.drop_photos(_photo_of(active.get("card")))  # a reading still to confirm is replaced
    active["card"] = {"person": person, "stage": "confirm", "read": read, "refused": refused,
                      "missing": missing, "typed": []}
    kept = _keep_for_copy(ctx, person, photo)
    if kept is not None:
        active["card"]["photo"] = kept
    log.info("id card read conversation=%s fields=%d", ctx.turn.conversation.id, len(read))
    return Answer(True, reading(ctx))


def _keep_for_copy(ctx: Context, person: str, data: bytes) -> int | None:
    """The photo stored for the flow's copy of this person's card, checked like that document's files;
    None when the flow needs no copy or the photo does not pass (then it is not kept, as any other)."""
    document = copy_document(ctx.flow.steps, person) if ctx.flow is not None else None
    if document is None:
        return None
    turn = ctx.turn
    try:
        stored = accept_upload(turn.session, turn.services.settings, data, turn.conversation,
                               accept=document.content_types, max_bytes=max_bytes(document))
    except Refusal as refusal:
        log.info("card photo not kept for a copy conversation=%s reason=%s", turn.conversation.id,
                 refusal.reason)
        return None
    return stored.id


def _photo_of(card: Any) -> set[int]:
    """The stored photo id a reading (or a kept copy) holds, as a set for Context.drop_photos."""
    photo = card.get("photo") if isinstance(card, dict) else None
    return {int(photo)} if photo else set()


def reading(ctx: Context) -> list[Reply]:
    """The reading, shown like the flow's summary (its labels, "• label: value"), and the question."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    card = active["card"]
    labels = {s.id: s.label for s in flow.steps if isinstance(s, PersonField)}
    lines = [text("idcard.read_intro")]
    lines += [f"• {labels.get(slot, slot)}: {display}" for slot, (_, display) in card["read"].items()]
    lines += [text("idcard.read_missing", label=labels.get(slot, slot)) for slot in card["missing"]]
    lines.append(text("idcard.read_question"))
    return [Reply.say("\n".join(lines),
                      Button(text("idcard.button_yes"), payload(ACTION, do="yes")),
                      Button(text("idcard.button_fix"), payload(ACTION, do="fix")),
                      Button(text("idcard.button_type_all"), payload(ACTION, do="type")))]


def _fix_choices(ctx: Context) -> list[Reply]:
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    labels = {s.id: s.label for s in flow.steps if isinstance(s, PersonField)}
    buttons = [Button(labels.get(slot, slot)[:60], payload(ACTION, do="fix", field=slot))
               for slot in active["card"]["read"]]
    buttons.append(Button(text("idcard.button_type_all"), payload(ACTION, do="type")))
    return chunk_buttons(text("idcard.fix_which"), buttons)


def pending_prompt(ctx: Context, card: dict[str, Any]) -> list[Reply]:
    flow = ctx.flow
    assert flow is not None
    if card["stage"] == "fix" and card.get("field"):
        step = flow.step(card["field"])
        return [Reply.say(text("idcard.fix_ask", label=getattr(step, "label", "")))]
    if card["stage"] == "choose":
        return _fix_choices(ctx)
    return reading(ctx)


# ---------------------------------------------------------------- answering while a reading waits


def _fill(ctx: Context, card: dict[str, Any]) -> list[Reply]:
    """"Đúng": the confirmed fields enter the slots (and the history, for "quay lại")."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    sources = active.setdefault(SOURCES, {})
    for slot, (value, display) in card["read"].items():
        active["slots"][slot] = value
        active["display"][slot] = display
        if slot not in card["typed"]:
            sources[slot] = value
        if slot not in active["history"]:
            active["history"].append(slot)
    labels = {s.id: s.label for s in flow.steps if isinstance(s, PersonField)}
    replies = [Reply.say(text("idcard.filled"))]
    replies += [Reply.say(text("idcard.refused_field", label=labels.get(slot, slot), hint=hint))
                for slot, hint in card["refused"].items()]
    active.pop("card", None)
    if card["person"] not in _offered(active):
        _offered(active).append(card["person"])
    if card.get("photo"):  # kept for the copy of this person's card, replacing an earlier one
        copies = active.setdefault(CARD_COPIES, {})
        ctx.drop_photos(_photo_of({"photo": copies.get(card["person"])}))  # an earlier copy is replaced
        copies[card["person"]] = card["photo"]
    return replies


def _word(inbound: Inbound) -> str | None:
    folded = fold(inbound.text)
    if folded in YES_WORDS:
        return "yes"
    if folded in EDIT_WORDS:
        return "fix"
    if folded in TYPE_WORDS:
        return "type"
    return None


def answer_pending(ctx: Context, step: Any, card: dict[str, Any], inbound: Inbound, action: Action,
                   after: Any) -> Answer:
    """An answer while a reading waits; `after` is what the engine does once the card is settled."""
    flow, active = ctx.flow, ctx.active
    assert flow is not None and active is not None
    if inbound.attachments:
        return read_photo(ctx, card["person"], inbound)  # another photo replaces the reading
    do = str(action[1].get("do") or "") if action and action[0] == ACTION else None
    if action and do is None:
        return Answer(False, hint="idcard.confirm_hint")
    if card["stage"] == "fix" and do is None:
        target = flow.step(card["field"])
        ok, value, display, hint = validate(ctx.now, target, inbound.text.strip())  # type: ignore[arg-type]
        if not ok:
            return Answer(False, hint=hint or "dialogue.hint_invalid")
        card["read"][target.id] = [value, display]
        card["typed"].append(target.id)
        card["refused"].pop(target.id, None)
        card["stage"] = "confirm"
        return Answer(True, reading(ctx))
    do = do or _word(inbound)
    if do == "yes":
        return Answer(True, _fill(ctx, card), then=after(ctx))
    if do == "type":
        ctx.drop_photos(_photo_of(card))  # the reading is rejected: its photo is not kept
        active.pop("card", None)
        if card["person"] not in _offered(active):
            _offered(active).append(card["person"])
        return Answer(True, then=after(ctx))
    field = str(action[1].get("field") or "") if action else ""
    if do == "fix" and field in card["read"]:
        card["stage"], card["field"] = "fix", field
        return Answer(True, pending_prompt(ctx, card))
    if do == "fix":
        card["stage"] = "choose"
        return Answer(True, _fix_choices(ctx))
    return Answer(False, hint="idcard.confirm_hint")


def _takes_pending(flow: Flow, card: dict[str, Any], inbound: Inbound, now: datetime) -> bool:
    if card.get("stage") == "fix" and card.get("field"):
        try:
            target = flow.step(card["field"])
        except KeyError:
            return False
        return isinstance(target, PersonField) and validate(now, target, inbound.text.strip())[0]
    return _word(inbound) is not None


def _downloads(inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
    return tuple((a, MAX_BYTES) for a in inbound.attachments[:MAX_PHOTOS])


# ---------------------------------------------------------------- the two step kinds


def _first_question(flow: Flow | None, active: dict[str, Any], offer: CardOffer) -> PersonField | None:
    """The question right after the offer, when it is one of the person's card fields (typing its answer
    at the offer is taking the typed path)."""
    if flow is None:
        return None
    for step in flow.steps[flow.index(offer.id) + 1:]:
        if not step.waits or not step.applies(active.get("slots", {})):
            continue
        if step.id in active.get("slots", {}):
            continue
        return step if isinstance(step, PersonField) and step.person == offer.person else None
    return None


class Offer(StepKind):
    """The implied step after the consent."""

    def free_text(self, step: CardOffer) -> bool:
        return True  # the applicant's name typed here is taken: words that read like a request go to the NLU

    def done(self, ctx: Context, step: CardOffer) -> bool:
        active = ctx.active or {}
        if _pending(active, step.person):
            return False
        flow = ctx.flow
        slots = active.get("slots", {})
        filled = flow is not None and all(s.id in slots for s in card_fields(flow, step.person))
        return step.person in active.get("card_offered", []) or filled

    def prompt(self, ctx: Context, step: CardOffer) -> list[Reply]:
        card = _pending(ctx.active or {}, step.person)
        if card:
            return pending_prompt(ctx, card)
        copy = ctx.flow is not None and copy_document(ctx.flow.steps, step.person) is not None
        return [Reply.say(text("idcard.offer_copy" if copy else "idcard.offer"),
                          Button(text("idcard.button_photo"), payload(ACTION, do="photo")),
                          Button(text("idcard.button_type"), payload(ACTION, do="type")))]

    def answer(self, ctx: Context, step: CardOffer, inbound: Inbound, action: Action) -> Answer:
        active = ctx.active
        assert active is not None
        card = _pending(active, step.person)
        if card:
            return answer_pending(ctx, step, card, inbound, action, lambda ctx: NEXT)
        if inbound.attachments:
            return read_photo(ctx, step.person, inbound)
        do = str(action[1].get("do") or "") if action and action[0] == ACTION else _word(inbound)
        if do == "photo":
            return Answer(True, [Reply.say(text("idcard.send_photo"))])
        if do == "type":
            _offered(active).append(step.person)
            return Answer(True, then=NEXT)
        first = _first_question(ctx.flow, active, step)
        if not action and first is not None:  # the citizen simply typed the first answer: take it
            ok, value, display, _hint = validate(ctx.now, first, inbound.text.strip())
            if ok:
                _offered(active).append(step.person)
                active["slots"][first.id], active["display"][first.id] = value, display
                active["history"].append(first.id)
                return Answer(True, then=NEXT)
        return Answer(False, hint="idcard.offer_hint")

    def takes(self, flow: Flow, active: dict[str, Any], step: CardOffer, inbound: Inbound,
              now: datetime) -> bool:
        card = _pending(active, step.person)
        if card:
            return _takes_pending(flow, card, inbound, now)
        first = _first_question(flow, active, step)
        typed = inbound.text.strip()
        return _word(inbound) == "type" or (first is not None and bool(typed)
                                            and validate(now, first, typed)[0])

    def downloads(self, step: CardOffer, inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
        return _downloads(inbound)


class Field(Collect):
    """A person's card field: typed as usual, or answered with a photo of the person's card."""

    def prompt(self, ctx: Context, step: PersonField) -> list[Reply]:
        active = ctx.active or {}
        card = _pending(active, step.person)
        if card:
            return pending_prompt(ctx, card)
        replies = super().prompt(ctx, step)
        flow = ctx.flow
        slots = active.get("slots", {})
        fresh = flow is not None and not any(s.id in slots for s in card_fields(flow, step.person))
        if fresh and step.person not in active.get("card_offered", []) and replies:
            first = replies[0]
            replies[0] = Reply.say(f"{first.text}\n{text('idcard.field_tip')}", *first.buttons)
        return replies

    def answer(self, ctx: Context, step: PersonField, inbound: Inbound, action: Action) -> Answer:
        card = _pending(ctx.active or {}, step.person)
        if card:
            def after(ctx: Context) -> Any:
                filled = step.id in (ctx.active or {}).get("slots", {})
                return NEXT if filled else ("edit", step.id)
            return answer_pending(ctx, step, card, inbound, action, after)
        if inbound.attachments:
            return read_photo(ctx, step.person, inbound)
        return super().answer(ctx, step, inbound, action)

    def takes(self, flow: Flow, active: dict[str, Any], step: PersonField, inbound: Inbound,
              now: datetime) -> bool:
        card = _pending(active, step.person)
        return _takes_pending(flow, card, inbound, now) if card else super().takes(flow, active, step,
                                                                                     inbound, now)

    def downloads(self, step: PersonField, inbound: Inbound) -> tuple[tuple[Attachment, int], ...]:
        return _downloads(inbound)


OFFER = Offer()
FIELD = Field()
