"""The dashboard page: figures, CSV behind the charts, access; and in headless Chromium the charts are
drawn (checked on a screenshot) from the vendored Chart.js, also on a phone-sized window."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff.test_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401

from bot.config import Settings

from .conftest import PASSWORD, Staff, World, generate, serving


def test_dashboard_shows_the_figures_and_csv(app: Flask, officer: Staff, world: World) -> None:
    expected = world.expected()
    page = officer.get("/staff/dashboard?period=7d").get_data(as_text=True)
    assert f'id="kpi-messages">{expected["citizen_messages"]}<' in page
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in page
    assert "satisfaction-by-officer" not in page  # results by officer: admins only
    rows = list(csv.reader(io.StringIO(officer.get("/staff/dashboard/dossiers.csv?period=7d")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["procedure_code", "procedure_name", "count"]
    assert {r[0]: int(r[2]) for r in rows[1:]} == expected["dossiers_per_procedure"]
    messages = list(csv.reader(io.StringIO(officer.get("/staff/dashboard/messages.csv?period=7d")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    assert sum(int(v) for row in messages[1:] for v in row[1:]) == expected["citizen_messages"]
    assert officer.get("/staff/dashboard/nothing.csv").status_code == 404
    bad = officer.get("/staff/dashboard?period=custom&from=2026-02-01&to=2026-01-01")
    assert bad.status_code == 422 and "the period ends before it starts" in bad.get_data(as_text=True)


def test_admin_sees_results_by_officer(admin: Staff) -> None:
    assert "satisfaction-by-officer" in admin.get("/staff/dashboard").get_data(as_text=True)


def test_dashboard_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/staff/dashboard").status_code == 302
    assert client.get("/staff/dashboard/messages.csv").status_code == 302


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[Flask, str]]:
    with serving(settings) as running:
        yield running


def _coloured_pixels(png: bytes, colour: tuple[int, int, int]) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(n for n, p in image.getcolors(maxcolors=1 << 24) or ()
               if all(abs(a - b) <= 12 for a, b in zip(p, colour, strict=True)))


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium (make browser)")
def test_dashboard_charts_in_chromium(live, browser, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    app, base = live
    make_user("canbo1")
    world = generate(app)
    wait = WebDriverWait(browser, 40)
    browser.get(f"{base}/staff/dashboard")
    wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys("canbo1")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "chart-messages")))
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('canvas')].every(c => c.dataset.drawn === '1')"))
    assert browser.find_element(By.ID, "kpi-messages").text == str(world.expected()["citizen_messages"])
    # The screenshot of each chart holds its bars: Zalo blue in messages per day, the accent colour in
    # dossiers per procedure, green (median) and orange (p90) in the response times.
    for chart, colour in (("chart-messages", (0x00, 0x68, 0xFF)), ("chart-dossiers", (0x0B, 0x5C, 0xAD)),
                          ("chart-response", (0x1F, 0x7A, 0x3D)), ("chart-response", (0xB5, 0x47, 0x08))):
        shot = browser.find_element(By.ID, chart).screenshot_as_png
        assert _coloured_pixels(shot, colour) > 200, chart
    assert _coloured_pixels(browser.find_element(By.ID, "chart-messages").screenshot_as_png,
                            (0xB5, 0x47, 0x08)) < 20  # and not another chart's colour: no false positive
    # Readable on a phone: charts still drawn, no horizontal scrolling.
    browser.set_window_size(390, 844)
    browser.get(f"{base}/staff/dashboard?period=30d")
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('canvas')].every(c => c.dataset.drawn === '1')"))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot = browser.find_element(By.ID, "chart-dossiers").screenshot_as_png
    assert _coloured_pixels(shot, (0x0B, 0x5C, 0xAD)) > 100
    browser.save_screenshot(str(tmp_path / "dashboard-phone.png"))
