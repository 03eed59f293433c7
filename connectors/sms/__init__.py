"""Brand-name SMS gateways behind one small interface: another provider is one module and one table row.

A provider sends one text to one Vietnamese phone number with our request id (the notification id, the
same on every retry) and returns the gateway's message id, or raises `connectors.base.SendError`
(transient: retry later | permanent: give up on SMS for this message).
"""

from __future__ import annotations

from typing import Protocol

from bot.services import Services
from connectors.http import PlatformSession
from connectors.sms.esms import EsmsProvider


class SmsProvider(Protocol):
    name: str

    def send(self, phone: str, text: str, request_id: str, http: PlatformSession) -> str:
        """The gateway's message id of `text` sent to `phone` (any Vietnamese form)."""
        ...


PROVIDERS: dict[str, type[EsmsProvider]] = {"esms": EsmsProvider}


def provider(services: Services) -> SmsProvider | None:
    """The configured provider (SMS_PROVIDER), or None when SMS is off."""
    cls = PROVIDERS.get(services.settings.sms_provider)
    return cls(services) if cls else None


__all__ = ["PROVIDERS", "SmsProvider", "provider"]
