"""The bot's settings: secrets that never print, however the settings are shown."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from pathlib import Path

import pytest

from bot.app import _open_generator
from bot.settings import Secret, Settings, load_settings
from model.remote import RemoteBackend

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.a-real-looking-discord-token"
API_KEY = "sk-the-model-servers-key"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\nOPENAI_API_KEY={API_KEY}\n")
    return load_settings(env_file, environ={})


def test_the_secrets_are_read_and_given_only_when_asked_for(settings: Settings) -> None:
    assert settings.discord_token.get_secret_value() == TOKEN
    assert settings.openai_api_key.get_secret_value() == API_KEY
    assert settings.has_token
    assert not Settings().has_token and not Settings().discord_token
    assert load_settings(None, environ={"DISCORD_TOKEN": "  "}).has_token is False


def test_printing_the_settings_never_shows_a_secret(settings: Settings) -> None:
    shown = [
        repr(settings),
        str(settings),
        f"{settings}",
        f"{settings!r}",
        f"{settings.discord_token}",
        str(dataclasses.asdict(settings)),
        str(dataclasses.replace(settings, guild_id=5)),
        str(settings.redacted()),
    ]
    for text in shown:
        assert TOKEN not in text and API_KEY not in text, text
    assert "discord_token=Secret('**********')" in repr(settings)
    assert str(settings.discord_token) == "**********"
    assert settings.redacted()["discord_token"] == "(set)"


def test_logging_the_settings_or_a_traceback_through_them_never_shows_a_secret(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("bot.test")
    with caplog.at_level(logging.DEBUG, logger="bot.test"):
        log.info("settings %s", settings)
        log.info("settings %r", settings)
        log.info("token %s", settings.discord_token)
        try:
            raise RuntimeError(settings)
        except RuntimeError:
            log.exception("failed with")
            printed = traceback.format_exc()
    assert TOKEN not in caplog.text and API_KEY not in caplog.text
    assert TOKEN not in printed


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a") != Secret("b")
    assert Settings(discord_token=Secret("a")) == Settings(discord_token=Secret("a"))
    assert hash(Settings(discord_token=Secret("a"))) == hash(Settings(discord_token=Secret("a")))
    assert repr(Secret()) == "Secret('')"


async def test_the_served_adapter_is_asked_for_by_name() -> None:
    """`OPENAI_ADAPTER` names the LoRA adapter the server serves: the remote backend asks for
    it in every request and credits the takes to base + adapter."""
    settings = load_settings(
        None,
        environ={"BACKEND": "openai", "OPENAI_MODEL": "Qwen2.5-7B", "OPENAI_ADAPTER": "screenplay"},
    )
    generator = await _open_generator(settings)
    try:
        assert isinstance(generator.backend, RemoteBackend)
        assert generator.backend.adapter == "screenplay"
        assert generator.name == "Qwen2.5-7B+screenplay"
    finally:
        await generator.close()
