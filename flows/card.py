"""Where a flow can read an ID card instead of asking: the people it asks an ID number for.

By the slot naming convention `<person>_name`, `<person>_id_number`, `<person>_birth_date`, `<person>_sex`,
`<person>_address`, any person with an `_id_number` field has a card whose QR code gives these fields. The
loader marks those fields (`PersonField`, a collect step that also takes a photo of the card) and adds one
implied step right after the consent (`CardOffer`): send a photo of the card's QR side, or type the details.
The flow files themselves say nothing about reading cards; a document that IS a copy of a person's card
says so (`card_of: applicant`), so the photo read for that person can be filed there (flows.kinds.documents).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from flows.steps import CONTENT_TYPES, Collect, Documents, Step

# Field suffixes a card fills, longest first so "_id_number" is not read as "_number".
SUFFIXES = ("id_number", "birth_date", "address", "name", "sex")
OFFER_ID = "id_card"


@dataclass(frozen=True)
class CardOffer(Step):
    """Right after the consent: a photo of the card's QR side, or the details typed one by one."""

    person: str = ""

    @property
    def waits(self) -> bool:
        return True


@dataclass(frozen=True)
class PersonField(Collect):
    """A collect step for one of a person's card fields; a photo of that person's card also answers it."""

    person: str = ""
    suffix: str = ""


def split(slot: str) -> tuple[str, str] | None:
    """'mother_birth_date' -> ('mother', 'birth_date'); None for a slot that is no card field."""
    for suffix in SUFFIXES:
        if slot.endswith("_" + suffix) and len(slot) > len(suffix) + 1:
            return slot[: -len(suffix) - 1], suffix
    return None


def card_people(steps: tuple[Step, ...]) -> list[str]:
    """The people the flow asks an ID number for, in the order asked."""
    people: list[str] = []
    for step in steps:
        parts = split(step.id) if isinstance(step, Collect) else None
        if parts and parts[1] == "id_number" and step.kind == "id_number" and parts[0] not in people:
            people.append(parts[0])
    return people


def card_copy_problem(steps: tuple[Step, ...]) -> str | None:
    """What is wrong with the flow's `card_of:` documents, in words an officer can act on; None when right."""
    people = card_people(steps)
    names = {parts[0] for s in steps if isinstance(s, Collect) and (parts := split(s.id))}
    photos = {t for t, kind in CONTENT_TYPES.items() if kind.startswith("image/")}
    for step in steps:
        if not isinstance(step, Documents) or not step.card_of:
            continue
        where, person = f"document {step.id}: card_of {step.card_of!r}", step.card_of
        if person not in names:
            known = ", ".join(people) or "none"
            return (f"{where} names no person of this flow (a person is the prefix of slots like "
                    f"<person>_name, <person>_id_number; people whose ID number is asked: {known})")
        if person not in people:
            return (f"{where}: the flow asks no {person}_id_number (type id_number), so no card of "
                    f"{person} is read; add that question or drop card_of")
        if not photos & set(step.accept):
            return f"{where}: the document must accept photos (jpeg, png or heic) to hold the card photo"
        if step.max_count < 2:
            return f"{where}: a card copy has two sides; allow at least two files (e.g. count: 1-5)"
    return None


def copy_document(steps: tuple[Step, ...], person: str) -> Documents | None:
    """The first document that is a copy of `person`'s card (`card_of`), if the flow has one."""
    return next((s for s in steps if isinstance(s, Documents) and s.card_of == person and person), None)


def with_cards(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """The steps with card fields marked and the card offer after the consent (unchanged without one)."""
    people = card_people(steps)
    if not people:
        return steps
    out: list[Step] = []
    for step in steps:
        parts = split(step.id) if type(step) is Collect else None
        if parts and parts[0] in people:
            values = {f.name: getattr(step, f.name) for f in fields(step)}
            step = PersonField(**values, person=parts[0], suffix=parts[1])
        out.append(step)
        if step.type == "consent" and not step.when and not any(s.id == OFFER_ID for s in steps):
            person = "applicant" if "applicant" in people else people[0]
            out.append(CardOffer(id=OFFER_ID, type="id_card", person=person))
    return tuple(out)
