"""Draft a procedure's flow file from its curated catalogue entry (fields + checklist).

The YAML it writes is the source of truth afterwards: officers edit it (wording, order, `if:`
branches), so an existing file is never overwritten unless --force is given.

    .venv/bin/python -m flows.generate            # write missing flows of curated procedures
    .venv/bin/python -m flows.generate --force 1.001193
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.store import Catalog, Procedure
from bot.config import DATA_DIR
from flows.loader import DEFAULTS, KINDS, parse_flow
from nlu.text import fold

# File (and flow) name of each curated procedure: what officers call it.
FLOW_NAMES = {
    "1.001193": "khai_sinh",
    "1.000894": "ket_hon",
    "1.000656": "khai_tu",
    "1.004222": "thuong_tru",
    "1.004194": "tam_tru",
    "1.002755": "gia_han_tam_tru",
    "1.003677": "tam_vang",
    "1.010041": "xac_nhan_cu_tru",
    "1.010038": "tach_ho",
    "2.000815": "chung_thuc_ban_sao",
    "2.000884": "chung_thuc_chu_ky",
    "2.000635": "trich_luc_ho_tich",
    "1.004873": "xac_nhan_hon_nhan",
    "1.004884": "dang_ky_lai_khai_sinh",
    "1.004859": "thay_doi_ho_tich",
    "1.001022": "nhan_cha_me_con",
    "1.004837": "giam_ho",
    "2.000986": "lien_thong_khai_sinh",
    "1.001612": "ho_kinh_doanh",
    "1.013225": "giay_phep_xay_dung",
}


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:] if label[:2] != label[:2].upper() else label


# Slots whose name says what they hold: a plain-text field so named is checked as that kind.
_KIND_OF_SUFFIX = {"_ethnicity": "ethnicity", "_nationality": "nationality"}
_EXAMPLES = {"ethnicity": "Kinh", "nationality": "Việt Nam"}


def field_kind(field: dict[str, Any]) -> str:
    """The validator kind of a catalogue field: its `kind`, or the one its slot name implies
    (`<person>_ethnicity`, `<person>_nationality`) when the entry leaves it as text."""
    kind = str(field.get("kind") or "text")
    if kind == "text":
        name = str(field.get("name") or "")
        kind = next((k for suffix, k in _KIND_OF_SUFFIX.items() if name.endswith(suffix)), kind)
    return kind


def _ask(field: dict[str, Any]) -> str:
    """A whole question from a label. A label that ends in a word waiting for its object ("Chỗ ở đăng
    ký thường trú là", "Tạm trú đến ngày") gets one ("... là gì", "... ngày nào") instead of "... là ạ."."""
    label = _lower_first(str(field.get("label") or field["name"]))
    kind = field_kind(field)
    open_end = fold(label).rsplit(" ", 1)[-1] in ("la", "ngay")
    if kind == "choice":
        topic = label[:-3].rstrip() if fold(label).endswith(" la") else label
        ask = f"{topic[:1].upper()}{topic[1:]}: anh/chị chọn một trong các mục dưới đây ạ."
    elif kind == "date":
        ask = f"Anh/Chị cho em biết {label}{' nào' if open_end else ''} ạ (ví dụ 15/10/2026)."
    elif kind in _EXAMPLES:
        ask = f"Anh/Chị cho em biết {label}{' gì' if open_end else ''} ạ (ví dụ: {_EXAMPLES[kind]})."
    else:
        ask = f"Anh/Chị cho em biết {label}{' gì' if open_end else ''} ạ."
    if field.get("hint"):
        ask += f" {str(field['hint']).rstrip('.')}."
    elif field.get("required") is False:
        ask += " Không có thì anh/chị bấm Bỏ qua."
    return ask


def collect_step(field: dict[str, Any]) -> dict[str, Any]:
    kind = field_kind(field)
    if kind not in KINDS:
        raise ValueError(f"field {field.get('name')}: kind {kind!r} has no validator")
    step: dict[str, Any] = {"collect": str(field["name"]), "type": kind,
                            "label": str(field.get("label") or field["name"]), "ask": _ask(field)}
    if kind == "choice":
        step["options"] = [str(o) for o in field.get("options") or ()]
    rule = field.get("rule")
    if kind == "date" and rule in ("past", "future"):
        step["rules"] = {"when": rule}
    if field.get("required") is False:
        step["optional"] = True
    return _without_defaults(step, "collect")


def _without_defaults(step: dict[str, Any], kind: str) -> dict[str, Any]:
    """The step as written to the file: what equals the loader's default is left out."""
    return {key: value for key, value in step.items() if DEFAULTS[kind].get(key, object()) != value}


def _slug(name: str, used: set[str]) -> str:
    words = re.findall(r"[a-z0-9]+", fold(name))[:4]
    base = "_".join(words) or "giay_to"
    if not base[0].isalpha():
        base = "giay_to_" + base
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}_{n}", n + 1
    used.add(slug)
    return slug


def document_step(item: dict[str, Any], used: set[str]) -> dict[str, Any]:
    name = " ".join(str(item["name"]).split())
    ask = f"Anh/Chị gửi ảnh chụp hoặc bản PDF: {name}."
    if item.get("note"):
        ask += " " + " ".join(str(item["note"]).split())
    step: dict[str, Any] = {
        "document": _slug(name, used),
        "label": name,
        "ask": ask,
        "count": "1-5",
    }
    if not item.get("required", True):
        step["none"] = "Không áp dụng"
    elif item.get("allow_not_applicable"):
        step["none"] = "Không có"
    return _without_defaults(step, "document")


def _authorization_condition(fields: list[dict[str, Any]], label: str) -> str | None:
    """An authorization letter is asked only from someone who said they act under one."""
    if "uy quyen" not in fold(label):
        return None
    for field in fields:
        for option in field.get("options") or ():
            if field.get("kind") == "choice" and "uy quyen" in fold(str(option)):
                return f'{field["name"]} == "{option}"'
    return None


def draft(procedure: Procedure, name: str) -> dict[str, Any]:
    """The flow for `procedure`: consent, the fields in order, uploads, what to bring, confirm, submit."""
    steps: list[Any] = [{"consent": None, "purpose": _lower_first(procedure.short_name)}]
    steps += [collect_step(f) for f in procedure.fields]
    used: set[str] = set()
    for item in procedure.checklist:
        if item.get("how") != "upload":
            continue
        step = document_step(item, used)
        condition = _authorization_condition(procedure.fields, step["label"])
        steps.append({"if": condition, "then": [step]} if condition else step)
    bring = [" ".join(str(i["name"]).split()) for i in procedure.checklist if i.get("how") == "in_person"]
    if bring:
        steps.append({"say": "Khi đến Trung tâm nhận kết quả, anh/chị mang theo: " + "; ".join(bring) + "."})
    steps += ["confirm", "submit"]
    return {"flow": name, "procedure": procedure.code, "title": procedure.short_name, "steps": steps}


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, no anchors; short lists of words stay on one line."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(isinstance(x, str) and len(x) < 40 for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _list)


def render(flow: dict[str, Any], procedure: Procedure) -> str:
    header = (
        f"# {procedure.short_name} — thủ tục {procedure.code}. Drafted by flows/generate.py from\n"
        f"# data/catalog/curated/{procedure.code}.yml; edit freely (this file is what the bot follows).\n"
    )
    body = yaml.dump(
        flow, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )
    body = body.replace("- consent: null\n", "- consent:\n").replace("\n  - ", "\n\n  - ")
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codes", nargs="*", help="procedure codes (default: every curated one)")
    parser.add_argument("--force", action="store_true", help="overwrite existing flow files")
    parser.add_argument("--out", type=Path, default=DATA_DIR / "flows")
    args = parser.parse_args(argv)
    catalog = Catalog.load()
    codes = args.codes or [c for c in FLOW_NAMES if catalog.get(c) and catalog.get(c).curated]  # type: ignore[union-attr]
    for code in codes:
        procedure = catalog.get(code)
        if procedure is None or not procedure.curated:
            print(f"{code}: not curated, skipped", file=sys.stderr)
            continue
        name = FLOW_NAMES.get(code, "p_" + code.replace(".", "_"))
        path = args.out / f"{name}.yml"
        if path.exists() and not args.force:
            print(f"{path.name}: exists, kept (use --force to redraft)")
            continue
        flow = draft(procedure, name)
        text = render(flow, procedure)
        parse_flow(yaml.safe_load(text), path.name)  # never write a file the loader would refuse
        path.write_text(text, encoding="utf-8")
        print(f"{path.name}: written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
