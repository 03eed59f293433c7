"""`motcua nlu ...`: parse utterances and evaluate the model through the running NLU server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.config import ROOT, Settings
from nlu.client import NLU_SERVER_COMMAND, NLUClient, NLUUnavailable, Parse

DEFAULT_HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"


def _client() -> NLUClient:
    settings = Settings.load()
    return NLUClient(settings.rasa_url, timeout=settings.rasa_timeout)


def _unavailable(exc: NLUUnavailable) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


def as_json(result: Parse) -> dict[str, object]:
    """The line format of `motcua nlu parse`."""
    code = result.procedure
    name = next((c.name for c in result.candidates if c.code == code), None) if code else None
    return {
        "text": result.text,
        "intent": {"name": result.intent, "confidence": round(result.confidence, 4)},
        "procedure": {"code": code, "name": name} if code else None,
        "entities": [
            {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
            for e in result.entities
        ],
    }


@click.group()
def nlu() -> None:
    """Language understanding (talks to the NLU server at RASA_URL)."""


@nlu.command()
def parse() -> None:
    """Parse one utterance per line of stdin; print one JSON object per line."""
    client = _client()
    if not client.available():
        _unavailable(NLUUnavailable(f"NLU server at {client.base_url} did not answer; "
                                    f"start it with `{NLU_SERVER_COMMAND}`"))
    # Lines end at "\n" only: a stray "\r" inside a message must not split it into two utterances.
    stream = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", newline="\n", closefd=False)  # noqa: SIM115
    for line in stream:
        try:
            result = client.parse(line.rstrip("\r\n"))
        except NLUUnavailable as exc:
            _unavailable(exc)
        click.echo(json.dumps(as_json(result), ensure_ascii=False))


@nlu.command("eval")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=ROOT / "reports" / "nlu-eval.md", show_default=True)
def eval_(file: Path | None, report_path: Path) -> None:
    """Intent and procedure accuracy on FILE (default: the held-out set), also with diacritics stripped."""
    from nlu.evaluation import evaluate as run
    from nlu.evaluation import load_examples, report, stripped

    client = _client()
    examples = load_examples(file or DEFAULT_HELDOUT)
    try:
        sections = [
            report("As written", run(examples, client.parse)),
            report("All diacritics stripped", run(stripped(examples), client.parse)),
        ]
    except NLUUnavailable as exc:
        _unavailable(exc)
    text = f"# NLU evaluation: {(file or DEFAULT_HELDOUT).name}\n\n" + "\n".join(sections)
    click.echo(text)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    click.echo(f"report written to {report_path}", err=True)
