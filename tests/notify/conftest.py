"""Notification fixtures: the Zalo, ZNS and eSMS stand-ins and services whose settings point at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.services import Services
from tests.channels.standins import GraphStandIn, ZaloStandIn

from .standins import EsmsStandIn, ZnsStandIn

ZALO_APP_ID = "4312345678901234567"


@pytest.fixture
def zalo_server() -> Iterator[ZaloStandIn]:
    server = ZaloStandIn(app_id=ZALO_APP_ID).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def graph_server() -> Iterator[GraphStandIn]:
    server = GraphStandIn().start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def zns_server(zalo_server: ZaloStandIn) -> Iterator[ZnsStandIn]:
    server = ZnsStandIn(zalo=zalo_server).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def esms_server() -> Iterator[EsmsStandIn]:
    server = EsmsStandIn().start()
    yield server  # type: ignore[misc]
    server.stop()


def notify_settings(base: Settings, zalo: ZaloStandIn, graph: GraphStandIn, zns: ZnsStandIn,
                    esms: EsmsStandIn, **extra: Any) -> Settings:
    values = {
        **base.__dict__,
        "zalo_app_id": ZALO_APP_ID,
        "zalo_app_secret": zalo.app_secret,
        "zalo_oa_secret_key": "TestOaSecretKey_ABC123xyz",
        "zalo_access_token": zalo.access_token,
        "zalo_refresh_token": zalo.refresh_token,
        "zalo_api_base": zalo.url,
        "zalo_oauth_base": zalo.url,
        "facebook_app_secret": "test_app_secret_0123456789abcdef",
        "facebook_verify_token": "meatyhamhock",
        "facebook_page_access_token": graph.page_token,
        "facebook_graph_base": graph.url,
        "zalo_zns_base": zns.url,
        "zalo_zns_template_id": "tpl-status",
        "sms_provider": "esms",
        "sms_api_base": esms.url,
        "sms_api_key": esms.api_key,
        "sms_secret_key": esms.secret_key,
        "sms_brandname": esms.brandname,
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def n_settings(settings: Settings, zalo_server: ZaloStandIn, graph_server: GraphStandIn,
               zns_server: ZnsStandIn, esms_server: EsmsStandIn) -> Settings:
    return notify_settings(settings, zalo_server, graph_server, zns_server, esms_server)


@pytest.fixture
def n_services(n_settings: Settings, make_services: Callable[[Settings], Services]) -> Services:
    return make_services(n_settings)
