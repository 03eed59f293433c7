"""The console in headless Chromium against a real WSGI server: log in, claim an escalated conversation,
see a new citizen message appear without reloading, reply, change a dossier's status, and check through
the Messenger stand-in that the citizen received both the reply and the notification (real dispatcher)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from channels.standins import GraphStandIn
from flask import Flask
from werkzeug.serving import make_server

from bot.agency import local_today
from bot.app import create_app
from bot.config import Settings
from bot.db import transaction
from bot.models import Conversation, Dossier, Message, OutboxMessage
from bot.pipeline.dispatcher import drain
from connectors import build_connectors

from .conftest import PASSWORD, add_conversation, add_dossier, db

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_TOKEN = "page-token-standin"
PSID = "psid-browser-1"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (make browser installs them)",
)


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    """The channels area's Graph API stand-in (tests/channels/standins.py)."""
    standin = GraphStandIn(page_token=PAGE_TOKEN).start()
    yield standin
    standin.stop()


@pytest.fixture
def live(settings: Settings, graph: GraphStandIn) -> Iterator[tuple[Flask, str]]:
    """The app on a free loopback port (werkzeug's threaded WSGI server), Messenger at the stand-in."""
    app = create_app(
        Settings.load(
            **{
                **settings.__dict__,
                "cookie_secure": False,
                "facebook_app_secret": "app-secret",
                "facebook_verify_token": "verify",
                "facebook_page_access_token": PAGE_TOKEN,
                "facebook_graph_base": graph.url,
                "facebook_graph_version": "v25.0",
            }
        ),
        start_workers=False,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["motcua"].engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    profile = tempfile.mkdtemp(prefix="motcua-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_officer_claims_replies_and_changes_status_in_the_browser(live, browser, graph, make_user) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    app, base = live
    make_user("canbo1")
    conv = add_conversation(app, user_id=PSID)
    with transaction(app.extensions["motcua"].sessions) as session:
        session.add(
            Message(conversation_id=conv, direction="in", author="citizen", text="Tôi muốn gặp cán bộ")
        )
    code = add_dossier(
        app, conv, code="000.00.12.H62-261129-0007", appointment=local_today() + timedelta(days=3)
    )
    # The page re-renders the transcript while it polls: an element read mid-swap raises a
    # WebDriverException ("does not belong to the document"); the wait just looks again.
    wait = WebDriverWait(browser, 40, ignored_exceptions=(WebDriverException,))

    # Log in: an anonymous visit lands on the login page, then back on the queue.
    browser.get(f"{base}/staff/")
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys("canbo1")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "waiting")))
    assert "Công dân muốn gặp cán bộ" in browser.page_source

    # Claim from the queue.
    browser.find_element(By.CSS_SELECTOR, f'button.claim[data-conv="{conv}"]').click()
    wait.until(ec.presence_of_element_located((By.ID, "reply-text")))
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "Tôi muốn gặp cán bộ"))
    with db(app) as session:
        assert session.get(Conversation, conv).mode == "human"

    # A citizen message arriving now shows up without a reload (polling).
    with transaction(app.extensions["motcua"].sessions) as session:
        session.add(
            Message(conversation_id=conv, direction="in", author="citizen", text="Anh ơi em cần hỏi gấp")
        )
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "Anh ơi em cần hỏi gấp"))

    # Reply.
    browser.find_element(By.ID, "reply-text").send_keys("Chào anh, em là cán bộ Trung tâm, em nghe ạ.")
    browser.find_element(By.ID, "reply-send").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "em là cán bộ Trung tâm"))

    # Change the dossier's status from its page.
    browser.get(f"{base}/staff/dossiers/{code}")
    Select(wait.until(ec.presence_of_element_located((By.ID, "status-select")))).select_by_value("processing")
    browser.find_element(By.ID, "status-note").send_keys("Hồ sơ đã được phân công xử lý")
    browser.find_element(By.ID, "status-submit").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "dossier-status"), "Đang xử lý"))
    with db(app) as session:
        assert session.query(Dossier).filter_by(code=code).one().status == "processing"

    # The phone layout has no horizontal scrolling.
    browser.set_window_size(390, 844)
    browser.get(f"{base}/staff/dossiers")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")

    # The real dispatcher sends both through the Messenger stand-in.
    services = app.extensions["motcua"]
    assert drain(services, build_connectors(services, quiet=True)) >= 2
    texts = [c.json["message"].get("text", "") for c in graph.sends() if c.json["recipient"]["id"] == PSID]
    assert all(
        c.query["access_token"] == PAGE_TOKEN and c.path == "/v25.0/me/messages" for c in graph.sends()
    )
    assert any("em là cán bộ Trung tâm" in t for t in texts)
    assert any(code in t and "đang được cán bộ xử lý" in t and "phân công" in t for t in texts)
    with db(app) as session:
        statuses = {o.purpose: o.status for o in session.query(OutboxMessage)}
    assert statuses == {"staff": "sent", "notification": "sent"}
