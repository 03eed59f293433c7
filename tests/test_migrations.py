"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import Base, import_models
from bot.services import Services


def test_migrated_schema_matches_the_models(services: Services) -> None:
    import_models()
    with services.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_dossiers_from_before_0009_count_as_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Their code and date were given at submission and used since: they keep them, as official."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    import bot.db

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(bot.db.__file__).parent / "migrations"))

    def to(revision: str) -> None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    to("0008")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dossier (code, procedure_code, procedure_name, channel, user_id, applicant, status,"
            " supplement_items, received_at, appointment_date, updated_at)"
            " VALUES ('000.00.12.H62-261120-0001', '1.001193', 'Đăng ký khai sinh', 'zalo', 'u', '{}',"
            " 'received', '[]', '2026-11-20 02:00:00',"
            " '2026-11-21', '2026-11-20 02:00:00')"))
    to("head")
    with engine.connect() as conn:
        query = "SELECT code, official_code, accepted_at, appointment_date FROM dossier"
        row = conn.execute(text(query)).one()
    assert row[0] == row[1] == "000.00.12.H62-261120-0001"
    assert row[2] is not None and str(row[3]) == "2026-11-21"
    engine.dispose()
