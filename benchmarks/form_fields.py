"""Official-form fields collected per curated flow (issue 14, target 100 %), from one run of the flow linter.

    .venv/bin/python benchmarks/form_fields.py

Prints, per curated flow, the fields of its official form(s) (data/forms/*.yml) that the flow collects,
then the figure over all flows; the same check as `motcua flows check`, which also lists the problems.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.lint import check


def main() -> int:
    reports = check()
    for r in reports:
        print(f"{r.flow:22} {r.collected:3}/{r.total:<3} {r.share:6.1%}")
    full = sum(1 for r in reports if r.share == 1.0)
    collected, total = sum(r.collected for r in reports), sum(r.total for r in reports)
    print(f"official-form fields collected per curated flow (target 100 %): {full}/{len(reports)} flows at "
          f"100 %; {collected}/{total} fields ({collected / total:.1%}); lowest flow "
          f"{min(r.share for r in reports):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
