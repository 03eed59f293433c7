"""Public, signed links to files an officer sent, so Messenger and Zalo can fetch them.

Only a link signed with the app's secret key opens a file; citizens' documents are never signed.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file
from werkzeug.wrappers import Response

from bot.staff import files

bp = Blueprint("outgoing", __name__, url_prefix="/outgoing")


@bp.get("/<name>/<sig>")
def outgoing_file(name: str, sig: str) -> Response:
    if not files.signature_valid(current_app.secret_key, name, sig):
        abort(404)
    services = current_app.extensions["motcua"]
    with services.sessions() as session:
        found = files.find(session, services.settings, name)
    if found is None:
        abort(404)
    stored, path = found
    response = send_file(path, mimetype=stored.content_type, download_name=name, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
