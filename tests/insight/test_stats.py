"""`GET /api/v1/stats` agrees with counts made directly from the generated rows; bad periods get a 422."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from .conftest import API_TOKEN, World

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def stats(client: FlaskClient, query: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.get(f"/api/v1/stats?{query}", headers=AUTH)
    return response.status_code, response.get_json()


def test_stats_agree_with_independent_counts(app: Flask, client: FlaskClient, world: World) -> None:
    status, body = stats(client, f"from={world.first}&to={world.last}")
    assert status == 200
    expected = world.expected()
    assert expected["citizen_messages"] > 10 and expected["answered"] > 0  # the data set exercises it
    assert body["citizen_messages"] == expected["citizen_messages"]
    assert body["conversations"] == expected["conversations"]
    assert body["fallbacks"] == expected["fallbacks"]
    assert body["handoffs_by_reason"] == expected["handoffs_by_reason"]
    per_day = {row["day"]: {k: v for k, v in row.items() if k != "day"} for row in body["messages_per_day"]}
    assert len(per_day) == 7
    assert {d: c for d, c in per_day.items() if c} == expected["per_day"]
    waits = body["first_response_seconds"]["all"]
    assert waits["count"] == expected["answered"]
    assert waits["median"] == round(expected["median_wait"], 1)
    dossiers = body["dossiers"]
    assert {p["code"]: p["count"] for p in dossiers["per_procedure"]} == expected["dossiers_per_procedure"]
    assert {s: n for s, n in dossiers["status_funnel"].items() if n} == expected["funnel"]
    assert {d["day"]: d["count"] for d in dossiers["per_day"] if d["count"]} == expected["dossiers_per_day"]
    assert dossiers["submitted"] == sum(expected["dossiers_per_procedure"].values())


def test_stats_by_channel(app: Flask, client: FlaskClient, world: World) -> None:
    world.messages = [m for m in world.messages if m["channel"] == "zalo"]
    status, body = stats(client, f"from={world.first}&to={world.last}&channel=zalo")
    assert status == 200
    assert body["citizen_messages"] == world.expected()["citizen_messages"]
    assert all(set(row) <= {"day", "zalo"} for row in body["messages_per_day"])


def test_stats_refuse_bad_periods(client: FlaskClient) -> None:
    assert stats(client, "from=2026-01-05")[0] == 422
    reversed_period = stats(client, "from=2026-01-05&to=2026-01-01")
    assert reversed_period == (422, {"error": "the period ends before it starts"})
    assert stats(client, "from=5/1/2026&to=2026-01-01")[1] == {"error": "dates must be YYYY-MM-DD"}
    assert client.get("/api/v1/stats?from=2026-01-01&to=2026-01-02").status_code == 401
