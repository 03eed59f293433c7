"""Renderers: native buttons where the platform has them, the base connector's degraded default where not."""

from __future__ import annotations

from io import StringIO

from bot.messages import Button, Reply
from bot.services import Services
from connectors.base import Connector, Target, numbered_text, text_parts
from connectors.console import ConsoleConnector
from connectors.facebook import FacebookConnector
from connectors.web import WebConnector
from connectors.zalo import PAYLOAD_PREFIX, ZaloConnector

TWO = Reply.say("Anh/Chị muốn làm gì ạ?", Button("Tra cứu hồ sơ", "check_status"),
                Button("Gặp cán bộ", "human"))
LONG_TITLES = Reply.say("Chọn thủ tục:",
                        *[Button(f"Đăng ký khai sinh cho trẻ em số {n}", f"p{n}") for n in range(6)])


def test_numbered_text() -> None:
    assert numbered_text(TWO) == "Anh/Chị muốn làm gì ạ?\n1. Tra cứu hồ sơ\n2. Gặp cán bộ"
    link = Reply.say("Xem thêm", Button("Cổng DVC", url="https://dichvucong.gov.vn"))
    assert numbered_text(link).endswith("1. Cổng DVC (https://dichvucong.gov.vn)")


def test_long_text_is_cut_after_sentences() -> None:
    sentence = "Hồ sơ gồm tờ khai và giấy chứng sinh. "  # 38 characters
    text = sentence * 100
    parts = text_parts(text, 2000)
    assert len(parts) == 2 and all(len(p) <= 2000 for p in parts)
    assert all(p.endswith("giấy chứng sinh.") for p in parts)  # no sentence is cut
    assert " ".join(parts) == text.strip()
    lines = "\n".join(f"{n}. Giấy tờ số {n}" for n in range(1, 400))
    line_parts = text_parts(lines, 2000)
    assert len(line_parts) > 1 and "\n".join(line_parts) == lines  # cut between lines, none lost
    words = "khai " * 1000  # no sentence end: cut between words
    assert [len(p) for p in text_parts(words, 2000)] == [1999, 1999, 999]
    assert text_parts("ạ" * 4500, 2000) == ["ạ" * 2000, "ạ" * 2000, "ạ" * 500]  # nothing to cut at
    assert text_parts("", 2000) == [""]


def test_degraded_defaults_of_the_base_connector(services: Services) -> None:
    base = Connector(services)
    assert base.render(TWO) == [{"text": numbered_text(TWO)}]  # buttons -> numbered lines
    image = Reply(kind="image", text="Mẫu tờ khai", url="https://example.org/a.png", name="mau.png")
    assert base.render(image) == [{"text": "Mẫu tờ khai\nmau.png: https://example.org/a.png"}]  # -> link
    assert [len(m["text"]) for m in base.render(Reply.say("Câu. " * 1000))] == [1999, 1999, 999]


def test_shows_buttons_says_what_render_does(services: Services) -> None:
    """`shows_buttons` (which the turn uses to remember a numbered list) agrees with the rendering."""
    many = Reply.say("Chọn:", *[Button(f"Mục {n}", f"m{n}") for n in range(6)])
    for connector in (ZaloConnector(services), FacebookConnector(services), WebConnector(services),
                      ConsoleConnector(services, out=StringIO())):
        for reply in (TWO, LONG_TITLES, many):
            numbered = "1. " in str(connector.render(reply))
            assert connector.shows_buttons(reply) is not numbered, (connector.name, reply.text)


def test_zalo(services: Services) -> None:
    zalo = ZaloConnector(services)
    [msg] = zalo.render(TWO)
    buttons = msg["attachment"]["payload"]["buttons"]
    assert [b["payload"] for b in buttons] == [PAYLOAD_PREFIX + "check_status", PAYLOAD_PREFIX + "human"]
    assert all(b["type"] == "oa.query.hide" for b in buttons)
    [msg] = zalo.render(Reply.say("Cổng", Button("Mở", url="https://dichvucong.gov.vn")))
    assert msg["attachment"]["payload"]["buttons"][0] == {"title": "Mở", "type": "oa.open.url",
                                                          "payload": {"url": "https://dichvucong.gov.vn"}}
    [msg] = zalo.render(LONG_TITLES)  # six buttons: more than Zalo's five -> numbered text
    assert "attachment" not in msg and msg["text"].splitlines()[6].startswith("6. ")
    parts = zalo.render(Reply.say("ạ" * 4500))
    assert [len(p["text"]) for p in parts] == [2000, 2000, 500]
    [img] = zalo.render(Reply(kind="image", text="Mẫu tờ khai", url="https://example.org/a.png"))
    assert img["attachment"]["payload"]["elements"] == [{"media_type": "image", "url": "https://example.org/a.png"}]
    caption, file = zalo.render(Reply(kind="file", text="Tờ khai", url="tok-1"))
    assert caption == {"text": "Tờ khai"}
    assert file["attachment"] == {"type": "file", "payload": {"token": "tok-1"}}
    [tx] = zalo.render(Reply.say("Cập nhật hồ sơ\nHồ sơ đã có kết quả."), Target("u", "transaction"))
    assert tx["attachment"]["payload"]["template_type"] == "transaction_account"


def test_zalo_recipient(services: Services) -> None:
    zalo = ZaloConnector(services)
    assert zalo._recipient(Target("u", "reply", "m")) == {"message_id": "m"}
    assert zalo._recipient(Target("u", "cs", "m")) == {"user_id": "u"}
    assert zalo._recipient(Target("anon:a1:c1", "reply")) == {"anonymous_id": "a1", "conversation_id": "c1"}


def test_facebook(services: Services) -> None:
    fb = FacebookConnector(services)
    [msg] = fb.render(TWO)
    assert msg["quick_replies"] == [
        {"content_type": "text", "title": "Tra cứu hồ sơ", "payload": "check_status"},
        {"content_type": "text", "title": "Gặp cán bộ", "payload": "human"}]
    [msg] = fb.render(Reply.say("Anh/Chị xem:", Button("Hướng dẫn", "guide"),
                                Button("Cổng DVC", url="https://dichvucong.gov.vn")))
    payload = msg["attachment"]["payload"]
    assert payload["template_type"] == "button"
    assert payload["buttons"][1] == {"type": "web_url", "url": "https://dichvucong.gov.vn",
                                     "title": "Cổng DVC"}
    [msg] = fb.render(LONG_TITLES)  # titles over 20 characters: numbered text + number quick replies
    assert msg["text"].startswith("Chọn thủ tục:\n1. ")
    assert [q["title"] for q in msg["quick_replies"]] == ["1", "2", "3", "4", "5", "6"]
    assert msg["quick_replies"][5]["payload"] == "p5"
    text, att = fb.render(Reply(kind="file", text="Mẫu đơn", url="https://example.org/mau.pdf"))
    assert att["attachment"] == {"type": "file", "payload": {"url": "https://example.org/mau.pdf",
                                                             "is_reusable": True}}
    assert all(m["metadata"] == "motcua" for m in (text, att))


def test_web_and_console(services: Services) -> None:
    assert WebConnector(services).render(TWO) == [TWO.to_dict()]
    console = ConsoleConnector(services, out=StringIO())
    assert console.render(TWO) == [{"text": "Anh/Chị muốn làm gì ạ?\n1. Tra cứu hồ sơ\n2. Gặp cán bộ"}]
