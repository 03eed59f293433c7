"""The integration API mounted on the app: the blueprint of `bot.api.views` with the routes of every API
module (dossiers in `views`, figures and the NLU review in `insight`)."""

from __future__ import annotations

from flask import Flask

from bot.api import insight  # noqa: F401 (its routes register on `bp`)
from bot.api.views import bp


def register(app: Flask) -> None:
    app.register_blueprint(bp)
