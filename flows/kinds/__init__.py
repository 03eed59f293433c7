"""The step kinds of the flow engine, one module each, in one table keyed by the step's type.

| type      | module     | waits | what it does                                                    |
| --------- | ---------- | ----- | --------------------------------------------------------------- |
| consent   | consent    | yes   | the purpose and the consent question; skipped once given         |
| collect   | collect    | yes   | one typed value, checked by its validator                        |
| documents | documents  | yes   | photos / PDFs for one checklist item                             |
| notify    | notify     | yes   | how to be told of status changes (implied before confirm)        |
| confirm   | confirm    | yes   | the summary; submit or correct one field                         |
| say       | say        | no    | a message, then on                                               |
| submit    | submit     | no    | the dossier and its receipt                                      |
| handoff   | handoff    | no    | an officer takes over                                            |
| action    | action     | no    | a named Python action (flows.actions)                            |
| id_card   | id_card    | yes   | implied after the consent: a photo of the ID card, or type it     |

A collect step for a person's card field (flows.card.PersonField) is answered by `id_card.FIELD`, which
also takes a photo of that person's card.
"""

from __future__ import annotations

from flows.card import PersonField
from flows.kinds import action, collect, confirm, consent, documents, handoff, id_card, notify, say, submit
from flows.kinds.base import StepKind
from flows.steps import WAITING, Step

KINDS: dict[str, StepKind] = {
    "consent": consent.KIND,
    "collect": collect.KIND,
    "documents": documents.KIND,
    "notify": notify.KIND,
    "confirm": confirm.KIND,
    "say": say.KIND,
    "submit": submit.KIND,
    "handoff": handoff.KIND,
    "action": action.KIND,
    "id_card": id_card.OFFER,
}
assert set(WAITING) <= set(KINDS)


def kind_of(step: Step) -> StepKind:
    return id_card.FIELD if isinstance(step, PersonField) else KINDS[step.type]
