"""flows/generate.py drafts whole questions: no "... thường trú là ạ." or "... đến ngày ạ" (issue 14)."""

from __future__ import annotations

from bot.catalog.store import Catalog
from flows.generate import FLOW_NAMES, _ask, draft
from flows.lint import _BROKEN_ASK
from nlu.text import fold


def test_labels_waiting_for_an_object_get_one() -> None:
    assert _ask({"name": "x", "kind": "choice", "label": "Chỗ ở đăng ký thường trú là"}) == (
        "Chỗ ở đăng ký thường trú: anh/chị chọn một trong các mục dưới đây ạ.")
    assert "tạm trú đến ngày nào ạ" in _ask({"name": "x", "kind": "date", "label": "Tạm trú đến ngày"})
    assert _BROKEN_ASK.search(fold("Anh/Chị cho em biết tạm trú đến ngày ạ."))


def test_no_drafted_question_ends_without_its_object() -> None:
    catalog = Catalog.load()
    for code, name in FLOW_NAMES.items():
        procedure = catalog.get(code)
        assert procedure is not None
        for step in draft(procedure, name)["steps"]:
            if isinstance(step, dict) and "ask" in step and "collect" in step:
                assert not _BROKEN_ASK.search(fold(step["ask"])), (name, step["ask"])


def test_ethnicity_and_nationality_fields_are_drafted_with_their_validators() -> None:
    from flows.generate import collect_step
    from flows.loader import KINDS

    ethnicity = collect_step({"name": "child_ethnicity", "label": "Dân tộc của bé"})
    assert ethnicity["type"] == "ethnicity" and ethnicity["ask"].endswith("(ví dụ: Kinh).")
    nationality = collect_step({"name": "mother_nationality", "kind": "text", "label": "Quốc tịch của mẹ"})
    assert nationality["type"] == "nationality" and "(ví dụ: Việt Nam)" in nationality["ask"]
    assert {"ethnicity", "nationality"} <= set(KINDS)
    # a field whose entry names another kind keeps it
    assert collect_step({"name": "x_nationality", "kind": "choice", "label": "Quốc tịch",
                         "options": ["Việt Nam", "Khác"]})["type"] == "choice"
