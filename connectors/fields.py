"""Platform JSON of any shape, read as the types a connector expects.

A correctly signed webhook can still carry a field of an unexpected type (`"sender": "u1"`,
`"attachments": "x"`, `"messaging": 5`): documented payloads drift, and samples disagree on whether sizes
and ids are strings or numbers. Connectors read every field through these functions, so a wrong type
reads as "absent" instead of raising halfway through a batch.
"""

from __future__ import annotations

import math
from typing import Any

from bot.numbers import to_int


def obj(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    """The value when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def string(value: Any) -> str:
    """A string or a number as text (ids arrive as either); anything else, booleans included, is ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return ""


def whole(value: Any) -> int | None:
    """A non-negative whole number given as a JSON number or a string of digits ("233947", "1.7e12" no).

    Fractions are cut ("1717146000000.5" -> 1717146000000): timestamps and sizes are whole in practice.
    """
    if isinstance(value, float) and not isinstance(value, bool):
        return to_int(int(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        head, dot, fraction = value.strip().partition(".")
        return to_int(head) if not dot or to_int(fraction) is not None else None
    return to_int(value)
