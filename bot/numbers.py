"""Numbers people type: one reading for chat answers, query strings and webhook fields.

ASCII digits only, after width normalisation. Fullwidth forms ("０１２", from some phone keyboards and
CJK input methods) are the same characters as "012" at another width and count. Superscripts ("²"),
circled digits ("①") and the digits of other scripts ("٣") are refused: `str.isdigit()` accepts some of
them and `int()` raises on others, so checking with one and converting with the other lets a citizen's
own text crash their turn. Everything here returns None for what it refuses and never raises.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

MAX_INT = 2**63 - 1  # the largest value a BIGINT column or an SQLite INTEGER holds
MAX_ID = 2**31 - 1  # the largest value an INTEGER column (every id here) holds on PostgreSQL
# Fullwidth ASCII (U+FF01-FF5E) and the ideographic space: the compatibility mappings marked <wide>.
_WIDE = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0xFF01, 0xFF5F)} | {0x3000: " "}


def narrow(text: str) -> str:
    """`text` with fullwidth ASCII forms made ASCII; every other character is left as it is.

    Not full NFKC: that would also turn "²" into "2" and "①" into "1", which no one means as a digit.
    """
    return text.translate(_WIDE)


def digits(text: str) -> str | None:
    """The text itself when, after `narrow`, it is one or more ASCII digits (0-9) and nothing else."""
    value = narrow(text)
    return value if value.isascii() and value.isdigit() else None


def to_int(text: object, *, low: int = 0, high: int = MAX_INT) -> int | None:
    """A whole number within [low, high] written in ASCII digits (surrounding spaces allowed), or None.

    A JSON integer (not a boolean) is taken as it is. Longer than 19 digits is refused before conversion:
    `int()` raises on 4,300-digit strings, and no count, id or page here has more digits than a BIGINT.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        return text if low <= text <= high else None
    if not isinstance(text, str):
        return None
    value = digits(text.strip())
    if value is None or len(value.lstrip("0")) > 19:
        return None
    number = int(value)
    return number if low <= number <= high else None


def query_int(args: Mapping[str, str], name: str, default: int, *, low: int = 0, high: int = MAX_ID) -> int:
    """A number from the query string: `default` when absent or empty, a 400 naming the range otherwise."""
    raw = args.get(name, "")
    if raw == "":
        return default
    number = to_int(raw, low=low, high=high)
    if number is None:
        raise BadRequest(f"{name} must be a whole number from {low} to {high} in ASCII digits")
    return number


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits up to MAX_ID, so no id in a URL overflows a database
    integer (werkzeug's own accepts any size, and `\\d` digits of every script)."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
