"""Zalo OA access-token rotation (channels.md §1.8).

The refresh token is single-use: each refresh returns a new pair, and a second refresh with the old token
fails (-118 / invalid_grant), which would cut the OA off until someone re-authorises it. So exactly one
process refreshes at a time: on PostgreSQL under `SELECT ... FOR UPDATE` of the token row, on SQLite under
a lease stored in that row. The others wait, then reuse the pair the winner stored.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

import requests
from sqlalchemy import or_, select

from bot.db import insert_ignore, is_postgres, keyed_update, transaction, utcnow
from bot.models import ChannelToken
from bot.services import Services
from connectors.base import HTTP_TIMEOUT, SendError, http_session

log = logging.getLogger(__name__)

CHANNEL = "zalo"
REFRESH_LEEWAY = timedelta(minutes=30)  # refresh this long before expiry (access tokens live 25 h)
LEASE = timedelta(seconds=30)
WAIT_LIMIT = 45.0  # seconds a waiter waits for another process's refresh
CACHE_SECONDS = 5.0  # row re-read this often (and at once on a token error): other processes rotate it


class ZaloTokens:
    """The current access token, refreshed before expiry and on a token error; shared through the DB."""

    def __init__(self, services: Services, http: requests.Session | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.http = http or http_session()
        self.owner = uuid.uuid4().hex
        self._local = threading.Lock()  # one refresh attempt per process; threads queue here first
        self._seeded = False
        self._cached: tuple[str, datetime | None, float] | None = None  # token, expiry, monotonic time

    def _seed(self) -> None:
        """The first pair comes from the environment; afterwards the database row is the truth."""
        if self._seeded:
            return
        with transaction(self.services.sessions) as session:
            insert_ignore(session, ChannelToken, [{
                "channel": CHANNEL,
                "access_token": self.settings.zalo_access_token,
                "refresh_token": self.settings.zalo_refresh_token,
                "expires_at": None,
                "updated_at": utcnow(),
            }])
        self._seeded = True

    def _row(self) -> tuple[str, datetime | None]:
        with self.services.sessions() as session:
            row = session.get(ChannelToken, CHANNEL)
            assert row is not None
            token, expires_at = row.access_token, row.expires_at
        self._cached = (token, expires_at, time.monotonic())
        return token, expires_at

    def _cached_row(self) -> tuple[str, datetime | None]:
        """The row as read at most CACHE_SECONDS ago: one read per few seconds instead of one per send."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[2] < CACHE_SECONDS:
            return cached[0], cached[1]
        return self._row()

    @staticmethod
    def _fresh(expires_at: datetime | None, now: datetime) -> bool:
        return expires_at is None or expires_at - now > REFRESH_LEEWAY

    def current(self) -> str:
        """An access token to use now; refreshed first if it expires soon."""
        self._seed()
        token, expires_at = self._cached_row()
        if self._fresh(expires_at, utcnow()) and token:
            return token
        return self.refresh(token)

    def refresh(self, stale: str) -> str:
        """Replace `stale` (rejected or expiring); if another process already did, reuse its token."""
        self._seed()
        self._cached = None  # a token error or expiry: never trust the cache for the next read
        with self._local:
            if is_postgres(self.services.engine):
                token = self._refresh_locked_row(stale)
            else:
                token = self._refresh_with_lease(stale)
        self._cached = None
        return token

    def _refreshed_by_other(self, token: str, expires_at: datetime | None, stale: str) -> bool:
        return bool(token) and token != stale and self._fresh(expires_at, utcnow())

    def _refresh_locked_row(self, stale: str) -> str:
        with transaction(self.services.sessions) as session:
            row = session.scalars(
                select(ChannelToken).where(ChannelToken.channel == CHANNEL).with_for_update()
            ).one()
            if self._refreshed_by_other(row.access_token, row.expires_at, stale):
                return row.access_token
            access, refresh, expires_at = self._call_oauth(row.refresh_token)
            row.access_token, row.refresh_token, row.expires_at = access, refresh, expires_at
            row.updated_at = utcnow()
        log.info("zalo access token refreshed (row lock), expires %s", expires_at.isoformat())
        return access

    def _refresh_with_lease(self, stale: str) -> str:
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            token, expires_at = self._row()
            if self._refreshed_by_other(token, expires_at, stale):
                return token
            now = utcnow()
            with transaction(self.services.sessions) as session:
                taken = session.execute(
                    keyed_update(ChannelToken)
                    .where(ChannelToken.channel == CHANNEL,
                           or_(ChannelToken.lock_until.is_(None), ChannelToken.lock_until < now))
                    .values(lock_owner=self.owner, lock_until=now + LEASE)
                ).rowcount
            if taken:
                return self._refresh_holding_lease(stale)
            if time.monotonic() > deadline:
                raise SendError("transient", "token_wait", "another process is still refreshing the token")
            time.sleep(0.05)

    def _refresh_holding_lease(self, stale: str) -> str:
        try:
            with self.services.sessions() as session:
                row = session.get(ChannelToken, CHANNEL)
                assert row is not None
                if self._refreshed_by_other(row.access_token, row.expires_at, stale):
                    return row.access_token
                old_refresh = row.refresh_token
            access, refresh, expires_at = self._call_oauth(old_refresh)
            with transaction(self.services.sessions) as session:
                session.execute(
                    keyed_update(ChannelToken)
                    .where(ChannelToken.channel == CHANNEL)
                    .values(access_token=access, refresh_token=refresh, expires_at=expires_at,
                            updated_at=utcnow(), lock_owner=None, lock_until=None)
                )
            log.info("zalo access token refreshed (lease), expires %s", expires_at.isoformat())
            return access
        finally:
            with transaction(self.services.sessions) as session:
                session.execute(
                    keyed_update(ChannelToken)
                    .where(ChannelToken.channel == CHANNEL, ChannelToken.lock_owner == self.owner)
                    .values(lock_owner=None, lock_until=None)
                )

    def _call_oauth(self, refresh_token: str) -> tuple[str, str, datetime]:
        """POST /v4/oa/access_token with the App Secret in the `secret_key` header (§1.8 [S])."""
        if not refresh_token:
            raise SendError("permanent", "no_refresh_token", "no refresh token: authorise the OA")
        url = f"{self.settings.zalo_oauth_base}/v4/oa/access_token"
        try:
            resp = self.http.post(
                url,
                headers={"secret_key": self.settings.zalo_app_secret},
                data={"app_id": self.settings.zalo_app_id, "grant_type": "refresh_token",
                      "refresh_token": refresh_token},
                timeout=HTTP_TIMEOUT,
            )
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise SendError("transient", "oauth_unreachable", exc.__class__.__name__) from exc
        if resp.status_code >= 500:
            raise SendError("transient", f"http_{resp.status_code}", "OAuth server error")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not access or not refresh:
            code = str(data.get("error", "unknown"))
            # -118 / -14014: the refresh token is dead; only a new authorisation of the OA helps.
            log.error("zalo token refresh refused (error %s): re-authorise the OA", code)
            raise SendError("permanent", f"oauth_{code}", "token refresh refused")
        expires_in = int(str(data.get("expires_in") or "3600"))  # a string of seconds in real answers
        return str(access), str(refresh), utcnow() + timedelta(seconds=expires_in)
