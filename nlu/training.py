"""Train the NLU model only when something it depends on changed.

The fingerprint covers the pipeline, the NLU data, the abbreviation table, the custom components
and the catalogue names and aliases the linker masks during training.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from nlu.server import rasa_env

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "config.yml",
    "data/nlu",
    "data/abbreviations.yml",
    "data/matching.yml",
    "data/catalog/curated",
    "data/catalog/aliases.yml",
    "nlu/components.py",
    "nlu/text.py",
    "nlu/entities.py",
    "nlu/matching.py",
    "nlu/procedures.py",
    "nlu/procedure_rules.py",
    "nlu/spelling.py",
    "nlu/scoring.py",
    "nlu/rasa-constraints.txt",
]


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def train(rasa: str, out: Path, config: str = "config.yml", force: bool = False) -> bool:
    """Train into `out` unless its fingerprint file matches; returns True when it trained."""
    stamp = out.with_suffix(".fingerprint")
    current = fingerprint()
    if not force and out.exists() and stamp.exists() and stamp.read_text().strip() == current:
        print(f"==> NLU model {out.relative_to(ROOT)} is up to date")
        return False
    print(f"==> training the NLU model ({config}); this takes a minute or two on 2 cores", flush=True)
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [rasa, "train", "nlu", "--config", config, "--nlu", "data/nlu", "--out", str(out.parent),
           "--fixed-model-name", out.name.removesuffix(".tar.gz")]
    subprocess.run(cmd, cwd=ROOT, env=rasa_env(), check=True)
    stamp.write_text(current + "\n")
    print(f"==> trained in {time.monotonic() - started:.0f} s")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rasa", default=str(ROOT / ".venv-rasa" / "bin" / "rasa"))
    parser.add_argument("--out", default="models/nlu.tar.gz")
    parser.add_argument("--config", default="config.yml")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    try:
        train(args.rasa, ROOT / args.out, args.config, args.force)
    except subprocess.CalledProcessError as exc:
        print(f"error: training failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
