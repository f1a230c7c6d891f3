from pathlib import Path

import pytest
from pydantic import ValidationError

from app.errors import KBError, user_message
from app.settings import load_settings
from model.errors import WeightsError


def test_environment_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("KB_DEVICE", "cpu")
    settings = load_settings()
    assert settings.device == "cpu"
    assert settings.model == "bundled"
    assert settings.host == "127.0.0.1"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'kb.sqlite3'}"


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("KB_PORT=9000\n")
    assert load_settings().port == 9000


def test_invalid_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        load_settings()


def test_user_messages_are_sentences_not_tracebacks() -> None:
    assert user_message(WeightsError("tensor x missing")) == "tensor x missing"
    assert user_message(KBError("nope")) == "nope"
    assert "Internal error (ZeroDivisionError)" in user_message(ZeroDivisionError("x"))
