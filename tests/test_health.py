"""GET /healthz says whether the database and the NLU server answer, and whether the whole system is ready."""

import pytest

from bot.app import create_app
from bot.config import Settings
from nlu.server import free_port


def test_health_reports_database_and_missing_nlu(settings: Settings) -> None:
    app = create_app(Settings.load(**{**settings.__dict__, "rasa_url": f"http://127.0.0.1:{free_port()}"}),
                     start_workers=False)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "degraded", "ready": False, "database": True, "nlu": False}


@pytest.mark.rasa
def test_health_is_ready_with_the_nlu_server(nlu_settings: Settings) -> None:
    app = create_app(nlu_settings, start_workers=False)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "ready": True, "database": True, "nlu": True}
