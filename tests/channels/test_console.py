"""`motcua chat`: piped stdin through the console channel and the same pipeline."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.config import Settings
from bot.messages import Reply
from bot.models import Conversation, OutboxMessage
from bot.pipeline.commands import chat_command
from bot.services import Services

from .conftest import ScriptedDialogue


def test_piped_chat_with_numbered_buttons(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(chat_command, ["--user", "tester"], input="Xin chào\n2\n\n9\n",
                                obj={"dialogue": ScriptedDialogue()})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "anh/chị> Xin chào" in lines
    assert "bot> Em nhận được: Xin chào" in lines
    assert "     1. Tra cứu hồ sơ" in lines and "     2. Gặp cán bộ" in lines
    assert "anh/chị> 2" in lines and "bot> Em nhận được: human" in lines  # "2" picked the button
    assert "bot> Em nhận được: 9" in lines  # no ninth button: sent as text
    services = Services.build(settings)
    with services.sessions() as session:
        conv = session.scalars(select(Conversation).where(Conversation.channel == "console")).one()
        statuses = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.conversation_id == conv.id))
        assert conv.user_id == "tester" and list(statuses) == ["sent"] * 3
    services.engine.dispose()


def test_chat_reports_a_turn_that_cannot_run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(turn: object) -> list[Reply]:
        raise RuntimeError("NLU server at http://127.0.0.1:1 did not answer")

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setattr("bot.pipeline.worker.MAX_ATTEMPTS", 1)
    result = CliRunner().invoke(chat_command, [], input="Xin chào\n",
                                obj={"dialogue": ScriptedDialogue(broken)})
    assert result.exit_code == 1
    assert "did not answer" in result.output
