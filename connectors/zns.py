"""Zalo Notification Service: an approved template message to a phone number (channels.md §1.12).

`POST {ZALO_ZNS_BASE}/message/template`, header `access_token` (the OA token of the Zalo channel, from the
token store), JSON `{"phone": "84…", "template_id", "template_data", "tracking_id"}`. Success is
`{"error": 0, "data": {"msg_id": …}}`; failures carry a negative `error`. The `tracking_id` is our
notification id, the same on every retry, so Zalo's reports and ours name one message.

Error classes ([U]: codes from the ZNS error table as published by Zalo, not confirmed against the live
console): the token (-124, -216, -220) is refreshed once; Zalo's own errors and the night ban are retried
later; anything about the phone, the template, the OA's permission or quota is permanent for this message,
and the notification falls back to the next channel.
"""

from __future__ import annotations

import re
from typing import Any

from bot.services import Services
from connectors.base import SendError, post_for_answer
from connectors.http import PlatformSession
from connectors.zalo_token import ZaloTokens

TOKEN_ERRORS = frozenset({-124, -216, -220, 216, 401, -401})
TRANSIENT_ERRORS = frozenset({-32, -100, -133})  # app call limit, Zalo application error, 22h-6h ban
# For the console: what a permanent refusal means (the platform's error is kept with the notification).
MEANINGS = {
    -108: "phone number invalid",
    -109: "template id invalid",
    -114: "citizen cannot receive ZNS (account state or opt-out)",
    -115: "ZNS balance exhausted",
    -117: "template not granted to this OA",
    -118: "phone number has no Zalo account",
    -119: "account cannot receive ZNS",
    -131: "template not approved",
    -139: "citizen refused this kind of ZNS",
    -141: "citizen refused ZNS from this OA",
    -144: "OA daily ZNS quota exceeded",
}


def phone_84(raw: str | None) -> str | None:
    """A Vietnamese mobile number in the 84… form ZNS wants; None when it is not one."""
    digits = re.sub(r"\D", "", raw or "")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{9}", digits):
        return None
    return "84" + digits[1:]


class ZnsClient:
    """Sends one template message; raises SendError (transient | auth | permanent)."""

    def __init__(self, services: Services, tokens: ZaloTokens | None = None) -> None:
        self.settings = services.settings
        self.tokens = tokens or ZaloTokens(services)

    def send(self, phone: str, template_id: str, data: dict[str, str], tracking_id: str,
             http: PlatformSession) -> str:
        """The ZNS msg_id of the message sent to `phone` (84… form)."""
        body = {"phone": phone, "template_id": template_id, "template_data": data, "tracking_id": tracking_id}
        token = self.tokens.current()
        for attempt in (1, 2):
            answer = self._post(body, token, http)
            code = _code(answer)
            if code == 0:
                return str((answer.get("data") or {}).get("msg_id") or "")
            message = str(answer.get("message") or MEANINGS.get(code, ""))[:200]
            if code in TOKEN_ERRORS and attempt == 1:
                token = self.tokens.refresh(token)
                continue
            if code in TOKEN_ERRORS:
                raise SendError("auth", str(code), message)
            if code in TRANSIENT_ERRORS:
                raise SendError("transient", str(code), message)
            raise SendError("permanent", str(code), message or "refused")
        raise SendError("auth", "token", "token still rejected after refresh")  # pragma: no cover

    def _post(self, body: dict[str, Any], token: str, http: PlatformSession) -> dict[str, Any]:
        url = f"{self.settings.zalo_zns_base}/message/template"
        _, answer = post_for_answer(http, url, body, "ZNS server", headers={"access_token": token})
        if not isinstance(answer, dict):
            raise SendError("transient", "bad_answer", "answer is not an object")
        return answer


def _code(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("error", -1))
    except (TypeError, ValueError):
        return -1
