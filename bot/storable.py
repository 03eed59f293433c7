"""Text every database column can hold, whatever arrived.

JSON escapes (`\\u0000`, `\\ud800`) and percent-escapes (`%00`) put characters into parsed input that no
column takes: PostgreSQL text refuses NUL, and a lone surrogate cannot be encoded for either database.
Either would turn an insert or a lookup into a 500, so input is made storable (webhooks: the text is
kept with U+FFFD in their place) or refused with a 400 (requests to the app's own pages and API).
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge


def storable(value: Any) -> Any:
    """`value` with NUL and lone surrogates in its strings (nested ones too) replaced by U+FFFD."""
    if isinstance(value, str):
        if "\x00" not in value:
            try:
                value.encode("utf-8")
                return value
            except UnicodeEncodeError:
                pass
        return "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def is_storable(value: Any) -> bool:
    return storable(value) == value


def unstorable_request(request: Any) -> bool:
    """True when a request's path, query string or form fields hold a character no column can store.

    A form too large to parse is left to the view, which answers it in its own words (413).
    """
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded",
                                                         "multipart/form-data"):
        try:
            values += [*request.form.keys(), *request.form.values()]
        except RequestEntityTooLarge:
            return False
    return not all(map(is_storable, values))
