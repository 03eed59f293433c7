"""`motcua catalog ...`: import the portal data and look at catalogue entries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.catalog.search_cli import search_command
from bot.config import ROOT, Settings


def _data_dir(option: Path | None) -> Path:
    return option if option is not None else Settings.load().data_dir


@click.group()
def catalog() -> None:
    """Procedure catalogue (588 commune procedures from dichvucong.gov.vn)."""


@catalog.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory to write catalog/ into (default: MOTCUA_DATA_DIR or ./data).")
def import_command(source: Path, data_dir: Path | None) -> None:
    """Import the raw portal pages in SOURCE (e.g. ../shared/catalog/raw) into data/catalog/."""
    from bot.catalog.importer import import_catalog, parse_rates

    folder = source if source.is_dir() else ROOT / source
    if not folder.is_dir():
        click.echo(f"error: {source} is not a directory", err=True)
        sys.exit(1)
    target = _data_dir(data_dir) / "catalog"
    try:
        result = import_catalog(folder, target)
    except (FileNotFoundError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{len(result.entries)} procedures: {result.written} written, {result.unchanged} unchanged, "
               f"{result.removed} removed -> {target / 'procedures'}")
    for label, (ok, total) in parse_rates(result.entries).items():
        click.echo(f"  {label.replace('_', ' ')} parsed: {ok}/{total}")
    for code, count in sorted(result.anomaly_counts.items()):
        click.echo(f"  {code}: {count}")
    click.echo(f"report: {target / 'import-report.md'}")


@catalog.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True,
              help="Print the structured entry (with the curated overlay).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def show_command(code: str, as_json: bool, data_dir: Path | None) -> None:
    """Show the catalogue entry of procedure CODE (e.g. 1.001193)."""
    from bot.catalog.store import Catalog

    cat = Catalog.load(_data_dir(data_dir))
    procedure = cat.get(code)
    if procedure is None:
        hint = "" if len(cat) else " (empty catalogue: run `motcua catalog import ../shared/catalog/raw`)"
        click.echo(f"error: no procedure with code {code!r}{hint}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(procedure.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{procedure.code}  {procedure.short_name}")
    if procedure.short_name != procedure.name:
        click.echo(f"Official name: {procedure.name}")
    click.echo(f"Field: {procedure.field}   Levels: {', '.join(procedure.levels)}")
    if procedure.summary:
        click.echo(f"Summary: {procedure.summary}")
    for m in procedure.modes:
        note = f"  [{m.note}]" if m.note else ""
        click.echo(f"  {m.label}: {m.duration_text or '-'} | {_clip(m.fee_text, 80) or '-'}{note}")
    docs = [d for d in procedure.documents if not d.is_note]
    click.echo(f"Documents: {len(docs)} (+{len(procedure.documents) - len(docs)} notes)")
    for i, d in enumerate(docs, 1):
        click.echo(f"  {i}. {_clip(d.name, 100)}" + (f" — {d.quantity}" if d.quantity else ""))
    if procedure.checklist:
        click.echo(f"Curated checklist: {len(procedure.checklist)}")
        for i, item in enumerate(procedure.checklist, 1):
            need = "required" if item.get("required") else "optional"
            click.echo(f"  {i}. [{item.get('how', '?')}, {need}] {_clip(str(item.get('name', '')), 100)}")
    if procedure.fields:
        click.echo(f"Fields to collect: {', '.join(str(f.get('name')) for f in procedure.fields)}")
    if procedure.result:
        click.echo(f"Result: {_clip(procedure.result, 160)}")
    if procedure.aliases:
        click.echo(f"Aliases: {', '.join(procedure.aliases)}")
    if procedure.anomalies:
        click.echo(f"Anomalies: {', '.join(procedure.anomalies)}")
    click.echo(f"Portal: {procedure.url}")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# `motcua catalog search` is written next to the matcher (bot/catalog/search_cli.py).
catalog.add_command(search_command)
