"""`motcua nlu export-reviewed` and `motcua nlu retrain`: the review loop from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from bot.config import Settings


def _sessions():  # type: ignore[no-untyped-def]
    from bot.db import make_engine, make_session_factory, upgrade

    engine = make_engine(Settings.load().database_url)
    upgrade(engine)
    return make_session_factory(engine)


@click.command("export-reviewed")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="default: data/nlu/reviewed.yml")
def export_reviewed(out: Path | None) -> None:
    """Write the reviewed examples (masked) as Rasa NLU data, leaving out held-out and training texts."""
    from bot.insight import review
    from nlu.server import ROOT

    with _sessions()() as session:
        count = review.export(session, review.excluded(ROOT), out or review.EXPORT)
    click.echo(f"{count} reviewed example(s) written to {out or review.EXPORT}")


@click.command("retrain")
@click.option("--server", "servers", multiple=True, help="NLU server(s) to deploy to (default: RASA_URL)")
def retrain_command(servers: tuple[str, ...]) -> None:
    """Export the reviewed examples into data/nlu, train, evaluate, deploy only if not worse."""
    from bot.insight import retrain
    from nlu.retrain import RetrainFailed

    settings = Settings.load()
    try:
        outcome, _ = retrain.run(_sessions(), settings.data_dir, list(servers) or [settings.rasa_url],
                                 nlu_dir=settings.data_dir / "nlu")
    except RetrainFailed as exc:
        raise click.ClickException(str(exc)) from exc
    reviewed = "–" if outcome.reviewed_accuracy is None else f"{outcome.reviewed_accuracy:.1%}"
    click.echo(f"model {outcome.model}\nheld-out intent accuracy {outcome.previous_accuracy:.1%} -> "
               f"{outcome.heldout_accuracy:.1%}; on reviewed examples {reviewed}\n{outcome.reason}")
    if not outcome.deployed:
        raise SystemExit(3)
