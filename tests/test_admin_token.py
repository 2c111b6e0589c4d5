"""The admin token (gateway.admin.token): kept when configured; when generated, shown on a
terminal or written to a private file in the data folder, never both, never to the log."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from gateway.admin.token import TOKEN_FILE, ensure_token
from gateway.config import AdminConfig, Config


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_configured_token_is_kept_and_nothing_is_written(tmp_path: Path) -> None:
    config = Config(admin=AdminConfig(token="configured-token"))
    stream = Terminal()
    assert ensure_token(config, tmp_path, stream=stream) is config
    assert stream.getvalue() == ""
    assert not (tmp_path / TOKEN_FILE).exists()


def test_on_a_terminal_the_generated_token_is_shown_once_and_not_written(tmp_path: Path) -> None:
    stream = Terminal()
    config = ensure_token(Config(), tmp_path, stream=stream)
    token = config.admin.token
    assert token is not None and len(token) >= 20
    assert stream.getvalue().count(token) == 1
    assert not (tmp_path / TOKEN_FILE).exists()


def test_without_a_terminal_it_goes_to_a_0600_file_and_the_log_says_where_not_what(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO):
        config = ensure_token(Config(), tmp_path / "data", stream=stream)
    token = config.admin.token
    assert token is not None
    file = tmp_path / "data" / TOKEN_FILE
    assert file.read_text().strip() == token
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stream.getvalue() == ""
    assert str(file) in caplog.text and token not in caplog.text


def test_a_new_token_replaces_the_file_of_the_last_start(tmp_path: Path) -> None:
    first = ensure_token(Config(), tmp_path, stream=io.StringIO()).admin.token
    second = ensure_token(Config(), tmp_path, stream=io.StringIO()).admin.token
    assert first != second
    assert (tmp_path / TOKEN_FILE).read_text().strip() == second
    assert [p.name for p in tmp_path.iterdir()] == [TOKEN_FILE]  # no temporary file left
