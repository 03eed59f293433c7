"""Settings, read once from the environment (and `.env` through python-dotenv).

Every setting is documented in `.env.example`; nothing secret has a default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
INSTANCE_DIR = ROOT / "instance"

DEFAULT_ATTACHMENT_HOSTS = (
    # Zalo CDNs ([U] host list from observed payloads) and Facebook/Messenger CDNs.
    "zalo.me,zadn.vn,zdn.vn,zaloapp.com,fbcdn.net,fbsbx.com,facebook.com"
)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _default_worker_threads(database_url: str) -> int:
    """Event threads per process: SQLite has one writer at a time and the turns of a round share one
    transaction, so a second thread only adds waiting for the writer lock and the interpreter (measured with
    benchmarks/forms.py on 2026-12-04 with rounds of up to 32: one thread 133-156 turns/s, two 119-123; four
    threads with rounds of 4 had 85-117); PostgreSQL overlaps them."""
    return 1 if database_url.startswith("sqlite") else 2


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment; `Settings.load()` is the only reader."""

    database_url: str
    secret_key: str
    port: int
    rasa_url: str
    rasa_timeout: float
    data_dir: Path
    files_dir: Path
    attachment_hosts: tuple[str, ...]
    max_upload_bytes: int
    min_image_side: int  # pixels on the short side below which a document photo is refused as unreadable
    draft_ttl_days: int
    embedded_workers: bool
    worker_threads: int
    api_token: str
    public_base_url: str
    cookie_secure: bool  # staff session cookie only over HTTPS; off for http://127.0.0.1 development
    zalo_app_id: str
    zalo_app_secret: str
    zalo_oa_secret_key: str
    zalo_access_token: str
    zalo_refresh_token: str
    zalo_api_base: str
    zalo_oauth_base: str
    facebook_app_secret: str
    facebook_verify_token: str
    facebook_page_access_token: str
    facebook_graph_base: str
    facebook_graph_version: str
    facebook_app_id: str = ""  # our app id: echoes from it are our own sends, other app ids are staff
    zalo_webhook_max_age: int = 300  # seconds a signed Zalo webhook timestamp may differ from now; 0 = off
    zalo_transaction_messages: bool = False  # notify out-of-window citizens with Zalo transaction messages
    inbox_spool: bool = False  # SQLite: webhooks write to a side file so turns never delay an acknowledgement
    # Abuse limits (bot/limits.py), in the `limits` notation ("20/minute;200/hour"); see .env.example.
    rate_limit_storage_uri: str = ""  # empty: in-process memory (one serving process); redis://... to share
    rate_limit_chat_visitor: str = "40/minute;400/hour"  # a helper tapping through a form fast stays under it
    rate_limit_chat_ip: str = "120/minute;3000/hour"
    rate_limit_chat_global: str = "600/minute"
    rate_limit_chat_poll: str = "150/minute"
    rate_limit_new_visitor: str = "60/hour"
    rate_limit_upload: str = "10/minute;60/hour"
    rate_limit_webhook: str = "500/second"
    rate_limit_login: str = "10/minute;60/hour"
    chat_upload_quota_files: int = 30  # web-chat files kept per conversation
    chat_upload_quota_mb: int = 100
    maintenance_interval_minutes: int = 60  # embedded default: how often the data-lifecycle jobs run
    orphan_grace_minutes: int = 60  # a file with no row is swept only when older than this
    # Notifications after the chat window closes (bot/notify): Zalo ZNS, then SMS. Off without settings.
    zalo_zns_base: str = "https://business.openapi.zalo.me"
    zalo_zns_template_id: str = ""  # the approved status-update template; per-status ids in data/agency.yml
    sms_provider: str = ""  # esms | "" (off)
    sms_api_base: str = "https://rest.esms.vn"
    sms_api_key: str = ""
    sms_secret_key: str = ""
    sms_brandname: str = ""
    sms_unicode: bool = False  # False: SMS without diacritics (160 characters a part instead of 70)
    price_zns: int = 0  # VND per ZNS message, for the admins' monthly cost
    price_sms: int = 0  # VND per SMS part
    price_zalo_proactive: int = 0  # VND per Zalo message outside the free replies
    notify_silent_days: int = 3  # a result ready this many days without any notification reaching the citizen

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        load_dotenv(ROOT / ".env", override=False)
        instance = Path(_env("MOTCUA_INSTANCE_DIR", str(INSTANCE_DIR)))
        hosts = _env("ATTACHMENT_HOSTS", DEFAULT_ATTACHMENT_HOSTS)
        values: dict[str, object] = dict(
            database_url=_env("DATABASE_URL", f"sqlite:///{instance / 'motcua.sqlite3'}"),
            secret_key=_env("SECRET_KEY"),
            port=_env_int("PORT", 8000),
            rasa_url=_env("RASA_URL", f"http://127.0.0.1:{_env_int('RASA_PORT', 5005)}"),
            rasa_timeout=float(_env("RASA_TIMEOUT", "5")),
            data_dir=Path(_env("MOTCUA_DATA_DIR", str(DATA_DIR))),
            files_dir=Path(_env("FILES_DIR", str(instance / "files"))),
            attachment_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
            max_upload_bytes=_env_int("MAX_UPLOAD_MB", 10) * 1024 * 1024,
            min_image_side=_env_int("MIN_IMAGE_SIDE", 300),
            draft_ttl_days=_env_int("DRAFT_TTL_DAYS", 7),
            embedded_workers=_env_bool("EMBEDDED_WORKERS", True),
            worker_threads=_env_int("WORKER_THREADS", _default_worker_threads(
                _env("DATABASE_URL", "sqlite:"))),
            api_token=_env("API_TOKEN"),
            public_base_url=_env("PUBLIC_BASE_URL", ""),
            cookie_secure=_env_bool("COOKIE_SECURE", True),
            zalo_app_id=_env("ZALO_APP_ID"),
            zalo_app_secret=_env("ZALO_APP_SECRET"),
            zalo_oa_secret_key=_env("ZALO_OA_SECRET_KEY"),
            zalo_access_token=_env("ZALO_ACCESS_TOKEN"),
            zalo_refresh_token=_env("ZALO_REFRESH_TOKEN"),
            zalo_api_base=_env("ZALO_API_BASE", "https://openapi.zalo.me").rstrip("/"),
            zalo_oauth_base=_env("ZALO_OAUTH_BASE", "https://oauth.zaloapp.com").rstrip("/"),
            facebook_app_secret=_env("FACEBOOK_APP_SECRET"),
            facebook_verify_token=_env("FACEBOOK_VERIFY_TOKEN"),
            facebook_page_access_token=_env("FACEBOOK_PAGE_ACCESS_TOKEN"),
            facebook_graph_base=_env("FACEBOOK_GRAPH_BASE", "https://graph.facebook.com").rstrip("/"),
            facebook_graph_version=_env("FACEBOOK_GRAPH_VERSION", "v25.0"),
            facebook_app_id=_env("FACEBOOK_APP_ID"),
            zalo_webhook_max_age=_env_int("ZALO_WEBHOOK_MAX_AGE", 300),
            zalo_transaction_messages=_env_bool("ZALO_TRANSACTION_MESSAGES", False),
            inbox_spool=_env_bool("INBOX_SPOOL", False),
            rate_limit_storage_uri=_env("RATE_LIMIT_STORAGE_URI"),
            rate_limit_chat_visitor=_env("RATE_LIMIT_CHAT_VISITOR") or cls.rate_limit_chat_visitor,
            rate_limit_chat_ip=_env("RATE_LIMIT_CHAT_IP") or cls.rate_limit_chat_ip,
            rate_limit_chat_global=_env("RATE_LIMIT_CHAT_GLOBAL") or cls.rate_limit_chat_global,
            rate_limit_chat_poll=_env("RATE_LIMIT_CHAT_POLL") or cls.rate_limit_chat_poll,
            rate_limit_new_visitor=_env("RATE_LIMIT_NEW_VISITOR") or cls.rate_limit_new_visitor,
            rate_limit_upload=_env("RATE_LIMIT_UPLOAD") or cls.rate_limit_upload,
            rate_limit_webhook=_env("RATE_LIMIT_WEBHOOK") or cls.rate_limit_webhook,
            rate_limit_login=_env("RATE_LIMIT_LOGIN") or cls.rate_limit_login,
            chat_upload_quota_files=_env_int("CHAT_UPLOAD_QUOTA_FILES", cls.chat_upload_quota_files),
            chat_upload_quota_mb=_env_int("CHAT_UPLOAD_QUOTA_MB", cls.chat_upload_quota_mb),
            maintenance_interval_minutes=max(1, _env_int("MAINTENANCE_INTERVAL_MINUTES", 60)),
            orphan_grace_minutes=max(1, _env_int("ORPHAN_GRACE_MINUTES", 60)),
            zalo_zns_base=(_env("ZALO_ZNS_BASE") or cls.zalo_zns_base).rstrip("/"),
            zalo_zns_template_id=_env("ZALO_ZNS_TEMPLATE_ID"),
            sms_provider=_env("SMS_PROVIDER").lower(),
            sms_api_base=(_env("SMS_API_BASE") or cls.sms_api_base).rstrip("/"),
            sms_api_key=_env("SMS_API_KEY"),
            sms_secret_key=_env("SMS_SECRET_KEY"),
            sms_brandname=_env("SMS_BRANDNAME"),
            sms_unicode=_env_bool("SMS_UNICODE", False),
            price_zns=_env_int("PRICE_ZNS", 0),
            price_sms=_env_int("PRICE_SMS", 0),
            price_zalo_proactive=_env_int("PRICE_ZALO_PROACTIVE", 0),
            notify_silent_days=max(1, _env_int("NOTIFY_SILENT_DAYS", 3)),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
