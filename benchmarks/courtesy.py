"""Opening messages with a greeting, thanks or apology in front of the request: how many get what they ask.

    PYTHONPATH=. .venv/bin/python benchmarks/courtesy.py [--rasa-url URL]

Each message is the first of a new citizen, sent through the whole turn (bot.turn.take_turn) on a fresh
SQLite database, once with the real NLU server (RASA_URL, default http://127.0.0.1:5005) and once with the
NLU down (a closed port: the degraded mode). A wish to submit counts as handled when the procedure's flow
started; a question when no flow started and the answer names the procedure and says what was asked (the
documents, the fee, the time or the place). Every request is written with diacritics and without, behind
each courtesy. Printed: the share handled in each mode, and the misses. It uses only the turn runner's public
API, so it also measures an older tree (PYTHONPATH=/path/to/other/tree) for a before/after figure.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]  # benchmarks/nlu.py
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH names the tree to measure
    sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.db import upgrade  # noqa: E402
from bot.messages import Inbound  # noqa: E402
from bot.models import Conversation  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.turn import take_turn  # noqa: E402

COURTESY = [
    ("Chào ad, ", "Chao ad, "), ("Dạ em chào anh chị ạ. ", "da em chao anh chi a. "),
    ("Cảm ơn, ", "cam on, "), ("Xin lỗi ad, ", "xin loi ad, "), ("Alô ad ơi, ", "alo ad oi "),
    ("Em chào Trung tâm, ", "e chao trung tam, "), ("Hi ad, ", "hi ad, "),
    ("Chào buổi sáng ạ! ", "chao buoi sang a! "),
    ("Cám ơn ad nhiều. ", "cam on ad nhieu. "), ("Làm phiền ad chút, ", "lam phien ad chut, "),
]
# (request with diacritics, without, expected: a flow name, or (procedure name, words of the answer))
REQUESTS: list[tuple[str, str, str | tuple[str, str]]] = [
    ("e muốn đăng ký khai sinh cho con", "e muon dang ky khai sinh cho con", "khai_sinh"),
    ("em muốn nộp hồ sơ khai sinh", "em muon nop ho so khai sinh", "khai_sinh"),
    ("tôi muốn đăng ký kết hôn", "toi muon dang ky ket hon", "ket_hon"),
    ("em muốn làm giấy khai tử cho bố", "em muon lam giay khai tu cho bo", "khai_tu"),
    ("tôi muốn xin giấy xác nhận tình trạng hôn nhân", "toi muon xin giay xac nhan tinh trang hon nhan",
     "xac_nhan_hon_nhan"),
    ("em hỏi làm giấy khai tử cần giấy tờ gì", "em hoi lam giay khai tu can giay to gi",
     ("Đăng ký khai tử", "giấy tờ")),
    ("em hỏi đăng ký kết hôn ở đâu", "em hoi dang ky ket hon o dau", ("Đăng ký kết hôn", "")),
    ("em hỏi lệ phí đăng ký khai sinh bao nhiêu", "em hoi le phi dang ky khai sinh bao nhieu",
     ("Đăng ký khai sinh", "phí")),
    ("em hỏi xác nhận tình trạng hôn nhân mất bao lâu", "em hoi xac nhan tinh trang hon nhan mat bao lau",
     ("tình trạng hôn nhân", "ngày")),
    ("bé nhà em mới sinh, em muốn làm giấy khai sinh cho bé",
     "be nha em moi sinh, em muon lam giay khai sinh cho be", "khai_sinh"),
    ("cho tôi nộp hồ sơ đăng ký kết hôn", "cho toi nop ho so dang ky ket hon", "ket_hon"),
    ("mình cần làm thủ tục khai tử cho ông", "minh can lam thu tuc khai tu cho ong", "khai_tu"),
    ("thủ tục đăng ký kết hôn cần những gì", "thu tuc dang ky ket hon can nhung gi",
     ("Đăng ký kết hôn", "giấy tờ")),
    ("khai sinh cho con có mất phí không", "khai sinh cho con co mat phi khong",
     ("Đăng ký khai sinh", "phí")),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def handled(services: Services, user: str, message: str, expected: str | tuple[str, str]) -> bool:
    replies = take_turn(services, Inbound("web", user, "text", text=message))
    with services.sessions() as session:
        conv = session.scalars(select(Conversation).where(Conversation.user_id == user)).one()
        active = (conv.state or {}).get("active")
    said = "\n".join(r.text for r in replies).lower()
    if isinstance(expected, str):
        return isinstance(active, dict) and active.get("flow") == expected
    name, words = expected
    return active is None and name.lower() in said and words.lower() in said


def run(rasa_url: str, label: str) -> tuple[int, int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(database_url=f"sqlite:///{tmp}/bench.sqlite3", files_dir=Path(tmp) / "files",
                                 secret_key="bench", embedded_workers=False, rasa_url=rasa_url)
        services = Services.build(settings)
        upgrade(services.engine)
        total = ok = 0
        misses: list[str] = []
        for c, (lead_acc, lead_plain) in enumerate(COURTESY):
            for r, (accented, plain, expected) in enumerate(REQUESTS):
                for v, text in enumerate((lead_acc + accented, lead_plain + plain)):
                    total += 1
                    if handled(services, f"{label}-{c}-{r}-{v}", text, expected):
                        ok += 1
                    else:
                        misses.append(text)
        services.engine.dispose()
    return ok, total, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    args = parser.parse_args()
    for label, url in (("real NLU", args.rasa_url), ("NLU down", f"http://127.0.0.1:{free_port()}")):
        ok, total, misses = run(url, label.replace(" ", "-"))
        print(f"{label}: {ok}/{total} handled ({100 * ok / total:.1f} %)")
        for miss in misses[:8]:
            print(f"  miss: {miss}")


if __name__ == "__main__":
    main()
