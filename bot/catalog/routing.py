"""Where a citizen takes a procedure at this centre: through the bot, to the centre in person, or to
another agency.

The kind of competent agency comes from the catalogue (bot/catalog/competence.py, read from the portal);
which procedures this centre takes through the chat, and which other agencies keep a desk at it, come
from the agency configuration (data/agency.yml `accepted_procedures`, `hosted_desks`). Every answer
that says where to submit asks this module, so no answer can send a citizen to the centre for a
procedure another agency handles.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from bot.catalog.competence import CENTRE
from bot.catalog.store import Procedure

Route = Literal["bot", "in_person", "other_agency"]
ROUTES: tuple[Route, ...] = ("bot", "in_person", "other_agency")


@dataclass(frozen=True)
class Desk:
    """What this centre receives: procedures accepted in the chat, and other agencies' desks it hosts."""

    accepted: frozenset[str] = frozenset()
    hosted: frozenset[str] = frozenset()  # agency kinds with a desk at this centre, e.g. {"police"}

    @classmethod
    def of(cls, agency: object | None) -> Desk:
        """From an Agency (bot/agency.py), a collection of accepted codes (older callers), or None."""
        if agency is None:
            return cls()
        if isinstance(agency, Desk):
            return agency
        accepted = getattr(agency, "accepted_procedures", None)
        if accepted is not None:
            return cls(frozenset(accepted), frozenset(getattr(agency, "hosted_desks", ()) or ()))
        if isinstance(agency, Collection) and not isinstance(agency, str):
            return cls(frozenset(str(c) for c in agency))
        raise TypeError(f"not an agency or a list of codes: {type(agency).__name__}")

    def receives(self, procedure: Procedure) -> bool:
        """The centre itself (or a desk it hosts) receives this procedure."""
        return procedure.agency_kind == CENTRE or procedure.agency_kind in self.hosted

    def route(self, procedure: Procedure) -> Route:
        if not self.receives(procedure):
            return "other_agency"
        return "bot" if procedure.code in self.accepted else "in_person"


def route(procedure: Procedure, agency: object | None) -> Route:
    return Desk.of(agency).route(procedure)
