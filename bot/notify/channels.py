"""Which push channels (Zalo ZNS, SMS) this installation can use: a channel without its settings is off."""

from __future__ import annotations

from bot.config import Settings

PUSH = ("zns", "sms")
SMS_PROVIDERS = ("esms",)


def missing(settings: Settings, channel: str) -> list[str]:
    """The settings `channel` lacks (empty: it is on)."""
    if channel == "zns":
        needed = {"ZALO_ZNS_TEMPLATE_ID": settings.zalo_zns_template_id,
                  "ZALO_APP_ID": settings.zalo_app_id,
                  "ZALO_APP_SECRET": settings.zalo_app_secret,
                  "ZALO_REFRESH_TOKEN": settings.zalo_refresh_token}
    elif channel == "sms":
        if settings.sms_provider not in SMS_PROVIDERS:
            return ["SMS_PROVIDER"]
        needed = {"SMS_API_KEY": settings.sms_api_key, "SMS_SECRET_KEY": settings.sms_secret_key,
                  "SMS_BRANDNAME": settings.sms_brandname}
    else:
        return [channel]
    return [name for name, value in needed.items() if not value]


def enabled(settings: Settings) -> tuple[str, ...]:
    """The push channels that are on, in order of preference."""
    return tuple(channel for channel in PUSH if not missing(settings, channel))


def describe(settings: Settings) -> str:
    """One line for the console and the log: which notification channels are on, why the others are off."""
    parts = []
    for channel in PUSH:
        lacking = missing(settings, channel)
        parts.append(f"{channel} on" if not lacking else f"{channel} off ({', '.join(lacking)} not set)")
    return "notification channels: " + "; ".join(parts)
