"""Where a flow can read an ID card instead of asking: the people it asks an ID number for.

By the slot naming convention `<person>_name`, `<person>_id_number`, `<person>_birth_date`, `<person>_sex`,
`<person>_address`, any person with an `_id_number` field has a card whose QR code gives these fields. The
loader marks those fields (`PersonField`, a collect step that also takes a photo of the card) and adds one
implied step right after the consent (`CardOffer`): send a photo of the card's QR side, or type the details.
The flow files themselves say nothing about cards.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from flows.steps import Collect, Step

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
