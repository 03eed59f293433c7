"""eSMS (esms.vn) brand-name SMS: POST {SMS_API_BASE}/MainService.svc/json/SendMultipleMessage_V4_post_json/

Body (channels.md §1.12, the provider's public docs): `ApiKey`, `SecretKey`, `Phone` (0… form), `Content`,
`Brandname`, `SmsType` "2" (customer care by brand name), `IsUnicode` "1"/"0", `Sandbox` "0", `RequestId`
(ours, the same on every retry). eSMS answers HTTP 200 with the outcome in the body: `CodeResult` "100" and
an `SMSID` on success; any other `CodeResult` is a refusal with `ErrorMessage`.

Refusals ([U] code meanings from public integrations, not the live console): 99 (unknown error at the
gateway) is retried; credentials, balance, brand name or template, phone number and content refusals
are permanent. A 5xx, a timeout or a connection error (gateway down) is retried.
"""

from __future__ import annotations

import re

from bot.services import Services
from connectors.base import SendError, post_for_answer
from connectors.http import PlatformSession

PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SUCCESS = "100"
TRANSIENT = frozenset({"99"})


def phone_0(raw: str) -> str | None:
    """A Vietnamese mobile number in the 0… form; None when it is not one."""
    digits = re.sub(r"\D", "", raw or "")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    return digits if re.fullmatch(r"0\d{9}", digits) else None


class EsmsProvider:
    name = "esms"

    def __init__(self, services: Services) -> None:
        self.settings = services.settings

    def body(self, phone: str, text: str, request_id: str) -> dict[str, str]:
        s = self.settings
        return {"ApiKey": s.sms_api_key, "SecretKey": s.sms_secret_key, "Phone": phone, "Content": text,
                "Brandname": s.sms_brandname, "SmsType": "2", "IsUnicode": "1" if s.sms_unicode else "0",
                "Sandbox": "0", "RequestId": request_id}

    def send(self, phone: str, text: str, request_id: str, http: PlatformSession) -> str:
        number = phone_0(phone)
        if number is None:
            raise SendError("permanent", "phone", "not a Vietnamese mobile number")
        url = f"{self.settings.sms_api_base}{PATH}"
        status, answer = post_for_answer(http, url, self.body(number, text, request_id), "SMS gateway")
        if not isinstance(answer, dict) or status >= 400:
            raise SendError("permanent", f"http_{status}", "unexpected answer")
        code = str(answer.get("CodeResult", ""))
        if code == SUCCESS:
            return str(answer.get("SMSID") or "")
        message = str(answer.get("ErrorMessage") or "")[:200]
        raise SendError("transient" if code in TRANSIENT else "permanent", code or "no_code", message)
