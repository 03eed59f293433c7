"""Local stand-ins for Zalo ZNS and the eSMS gateway (channels.md §1.12), with their error answers.

ZNS: `POST /message/template`, header `access_token` (checked against the Zalo stand-in's current OA token,
so a token rotation is visible), JSON phone / template_id / template_data / tracking_id; errors -124 (token),
-108 (invalid phone), -118 (no Zalo account), -131 (template not approved), -144 (daily quota), and 5xx
(gateway down). eSMS: `POST /MainService.svc/json/SendMultipleMessage_V4_post_json/`, HTTP 200 with
`CodeResult` "100" and an `SMSID`, else 101 (credentials), 103 (balance), 104 (brand name), 118 (type),
forced ones (146 CSKH template, 99 unknown and temporary) and 5xx.
Codes [U]: from public integrations of both platforms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.channels.standins import Call, StandIn, ZaloStandIn

ESMS_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"


@dataclass
class ZnsStandIn(StandIn):
    zalo: ZaloStandIn | None = None
    approved: set[str] = field(default_factory=lambda: {"tpl-status"})
    not_on_zalo: set[str] = field(default_factory=set)
    quota: int = 500

    def sends(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/message/template" and self.accepted(c)]

    def accepted(self, call: Call) -> bool:
        return getattr(call, "ok", False)

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.path != "/message/template" or call.method != "POST":
            return 404, {"error": -106, "message": "Method is not supported"}
        forced = self.forced()
        if isinstance(forced, tuple):
            return forced[1], {"error": -1, "message": "Service unavailable"}
        if forced is not None:
            return 200, {"error": int(forced), "message": f"forced error {forced}"}
        if self.zalo is not None and call.headers.get("access_token") != self.zalo.access_token:
            return 200, {"error": -124, "message": "Access token is invalid"}
        body = call.json if isinstance(call.json, dict) else None
        if body is None:
            return 200, {"error": -122, "message": "Body request is not JSON"}
        phone = str(body.get("phone") or "")
        if not re.fullmatch(r"84\d{9}", phone):
            return 200, {"error": -108, "message": "Phone number is invalid"}
        if str(body.get("template_id")) not in self.approved:
            return 200, {"error": -131, "message": "ZNS template is not approved"}
        if not isinstance(body.get("template_data"), dict) or not body.get("tracking_id"):
            return 200, {"error": -132, "message": "Parameter is invalid"}
        if phone in self.not_on_zalo:
            return 200, {"error": -118, "message": "Zalo account does not exist or is disabled"}
        with self.lock:
            if self.quota <= 0:
                return 200, {"error": -144, "message": "OA has exceeded the daily ZNS quota"}
            self.quota -= 1
            remaining = self.quota
        call.ok = True  # type: ignore[attr-defined]
        return 200, {"error": 0, "message": "Success",
                     "data": {"msg_id": self.next_id("zns-"), "sent_time": "1733289600000",
                              "quota": {"dailyQuota": "500", "remainingQuota": str(remaining)}}}


@dataclass
class EsmsStandIn(StandIn):
    api_key: str = "esms-key"
    secret_key: str = "esms-secret"
    brandname: str = "XAHOABINH"
    balance: int = 1000

    def sends(self) -> list[Call]:
        return [c for c in self.calls if getattr(c, "ok", False)]

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.path != ESMS_PATH or call.method != "POST":
            return 404, {"Message": "Endpoint not found."}
        forced = self.forced()
        if isinstance(forced, tuple):
            return forced[1], b"<html>503 Service Unavailable</html>"
        if forced is not None:
            return 200, {"CodeResult": str(forced), "ErrorMessage": f"forced error {forced}"}
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("ApiKey") != self.api_key or body.get("SecretKey") != self.secret_key:
            return 200, {"CodeResult": "101", "ErrorMessage": "Authorize Failed"}
        if body.get("Brandname") != self.brandname:
            return 200, {"CodeResult": "104", "ErrorMessage": "Brandname is not registered"}
        if body.get("SmsType") != "2" or not body.get("RequestId"):
            return 200, {"CodeResult": "118", "ErrorMessage": "Message type is invalid"}
        with self.lock:
            if self.balance <= 0:
                return 200, {"CodeResult": "103", "ErrorMessage": "Balance is not enough"}
            self.balance -= 1
        call.ok = True  # type: ignore[attr-defined]
        return 200, {"CodeResult": "100", "CountRegenerate": 0, "SMSID": self.next_id("sms-")}
