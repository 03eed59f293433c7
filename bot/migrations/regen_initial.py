"""DEV ONLY until the first release: rewrite versions/0001_initial.py from the current models.

Run `python -m bot.migrations.regen_initial` after changing any model. Removed before release.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.db import make_engine

HERE = Path(__file__).parent


def main() -> None:
    for old in (HERE / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/empty.sqlite3")
        cfg = Config()
        cfg.set_main_option("script_location", str(HERE))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    print("rewrote", next((HERE / "versions").glob("0001_*.py")))


if __name__ == "__main__":
    main()
