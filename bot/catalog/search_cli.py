"""`motcua catalog search`: the procedure matcher of the NLU linker (nlu.matching), from the command line,
so staff and developers see exactly which procedures a citizen's wording finds. `bot.catalog.cli` adds it
to the `motcua catalog` group."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.config import Settings


@click.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help='Print [{"code", "name", "score"}] only.')
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory (default: MOTCUA_DATA_DIR or ./data).")
def search_command(query: str, as_json: bool, limit: int, data_dir: Path | None) -> None:
    """Rank catalogue procedures for QUERY (with or without diacritics, abbreviations, colloquial names)."""
    from nlu.matching import ProcedureIndex

    index = ProcedureIndex.load(data_dir if data_dir is not None else Settings.load().data_dir)
    matches = index.search(query, limit=limit)
    if as_json:
        click.echo(json.dumps([m.as_dict() for m in matches], ensure_ascii=False))
        return
    if not matches:
        click.echo("no matching procedure")
        return
    for rank, m in enumerate(matches, start=1):
        click.echo(f"{rank:>2}. {m.code}  {m.score:.3f}  {m.short_name}")
    linked = index.link(query)
    if linked is not None:
        click.echo(f"link: {linked.code} (clear enough for the bot to answer directly)")
    else:
        click.echo("link: none (the bot offers the top 3 as buttons)")
