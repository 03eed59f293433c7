"""The trained model behind the real Rasa server, through the app's client and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata

import pytest

from bot.config import ROOT
from nlu.client import NLUClient
from nlu.evaluation import evaluate, load_examples, stripped
from nlu.server import free_port

pytestmark = pytest.mark.rasa

CONTRACT = {
    "greet", "goodbye", "thank", "affirm", "deny", "ask_procedure", "ask_documents", "ask_fee",
    "ask_duration", "ask_office", "submit_dossier", "check_status", "supplement_dossier",
    "request_human", "cancel", "bot_challenge", "delete_data", "complaint", "out_of_scope",
}
MOTCUA = [str(ROOT / ".venv" / "bin" / "motcua")] if (ROOT / ".venv/bin/motcua").exists() else [
    sys.executable, "-m", "bot.cli"]


@pytest.fixture(scope="module")
def nlu(rasa_url: str) -> NLUClient:
    return NLUClient(rasa_url, timeout=30)


@pytest.mark.parametrize(
    ("text", "intent", "procedure"),
    [
        ("đk ks cho bé cần gì", "ask_documents", "1.001193"),
        ("dang ky khai sinh can giay to gi", "ask_documents", "1.001193"),
        ("lệ phí đăng ký kết hôn bao nhiêu ạ", "ask_fee", "1.000894"),
        ("đăng ký lại khai sinh mất mấy ngày", "ask_duration", "1.004884"),
        ("em muốn nộp hồ sơ đăng ký thường trú", "submit_dossier", "1.004222"),
    ],
)
def test_intent_and_procedure(nlu: NLUClient, text: str, intent: str, procedure: str) -> None:
    result = nlu.parse(text)
    assert result.intent == intent
    assert result.procedure == procedure
    assert result.candidates and result.candidates[0].code == procedure


def test_every_predicted_intent_is_in_the_contract(nlu: NLUClient) -> None:
    for example in load_examples(ROOT / "tests" / "nlu" / "heldout.yml")[:60]:
        assert nlu.parse(example.text).intent in CONTRACT


def test_pattern_entities_keep_spans_on_the_original(nlu: NLUClient) -> None:
    text = "Hồ sơ 000.00.12.H62-251105-0004 của em đến đâu rồi ạ, sđt 0912345678"
    result = nlu.parse(text)
    assert result.intent == "check_status"
    got = {e.entity: e for e in result.entities}
    code = got["dossier_code"]
    assert code.value == "000.00.12.H62-251105-0004"
    assert text[code.start:code.end] == "000.00.12.H62-251105-0004"
    assert got["phone"].value == "+84912345678"


def test_nfd_input_is_understood_like_nfc(nlu: NLUClient) -> None:
    text = "lệ phí đăng ký khai tử bao nhiêu"
    a, b = nlu.parse(text), nlu.parse(unicodedata.normalize("NFD", text))
    assert (a.intent, a.procedure) == (b.intent, b.procedure)


def test_heldout_accuracy_does_not_regress(nlu: NLUClient) -> None:
    """A floor below the targets (95 % / 93 %, reported by benchmarks/nlu.py) that catches regressions."""
    examples = load_examples(ROOT / "tests" / "nlu" / "heldout.yml")
    written = evaluate(examples, nlu.parse)
    plain = evaluate(stripped(examples), nlu.parse)
    assert written.intent_accuracy >= 0.90
    assert written.procedure_accuracy >= 0.90
    assert plain.intent_accuracy >= 0.88
    assert plain.procedure_accuracy >= 0.88


def _cli(args: list[str], stdin: bytes, rasa_url: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "RASA_URL": rasa_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*MOTCUA, "nlu", *args], input=stdin, env=env, capture_output=True, timeout=120)


def test_cli_parse_answers_every_line_with_json_even_bad_input(rasa_url: str) -> None:
    lines = ["đk ks cho bé cần gì", "", "x" * 5000, "😀🙏", "\x01\x02\x7f", "hồ sơ 000.00.12.H62-251105-0004"]
    stdin = "\n".join(lines).encode() + b"\n" + os.urandom(300).replace(b"\n", b"") + b"\n"
    done = _cli(["parse"], stdin, rasa_url)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(out) == len(lines) + 1
    for item in out:
        assert set(item) == {"text", "intent", "procedure", "entities"}
        assert item["intent"]["name"] in CONTRACT
    assert out[0]["procedure"]["code"] == "1.001193"
    assert out[0]["procedure"]["name"]
    assert out[5]["entities"][0]["entity"] == "dossier_code"


def test_cli_parse_without_server_exits_2_and_names_the_command() -> None:
    done = _cli(["parse"], b"xin chao\n", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2
    assert b"make nlu-server" in done.stderr
