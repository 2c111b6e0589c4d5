"""Configuration: precedence of flags > environment > config.yaml > defaults, and the errors a
user sees for unknown keys and bad values (which source, which key, what was expected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import (
    AdminConfig,
    Config,
    config_from_json,
    config_to_json,
    load_config,
)
from gateway.errors import ConfigError

FLAGS = {"server.port": "--port", "plugins.dir": "--plugins", "plugins.watch": "--no-watch"}


def load(
    tmp_path: Path,
    yaml_text: str | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> Config:
    """Load with ``yaml_text`` as ``<tmp_path>/config.yaml`` and only ``env`` as environment."""
    if yaml_text is not None:
        (tmp_path / "config.yaml").write_text(yaml_text)
    return load_config(env=env or {}, overrides=overrides, flag_names=FLAGS, cwd=tmp_path)


def load_error(
    tmp_path: Path,
    yaml_text: str | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, object] | None = None,
) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, yaml_text, env, overrides)
    return info.value


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config == Config()
    assert (config.server.host, config.server.port, config.server.workers) == ("127.0.0.1", 8000, 1)
    assert config.plugins.dir == Path("plugins")
    assert (config.plugins.watch, config.plugins.poll) == (True, False)
    assert (config.plugins.settle_ms, config.plugins.drain_timeout_s) == (150, 30.0)
    assert config.wsgi.threads == 32
    assert (config.admin.prefix, config.admin.token) == ("/_gateway", None)
    assert config.django.settings == {}
    assert config.extensions == []


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "# nothing here\n") == Config()
    assert load(tmp_path, "server:\n") == Config()


def test_file_values(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "server: {host: 0.0.0.0, port: 9000}\n"
        "plugins:\n  dir: services\n  poll: true\n  drain_timeout_s: 2.5\n"
        "django: {settings: {DEBUG: true}}\n"
        "extensions: [acme.metrics]\n",
    )
    assert (config.server.host, config.server.port, config.server.workers) == ("0.0.0.0", 9000, 1)
    assert config.plugins.dir == Path("services")  # stays relative: resolved by the caller
    assert config.plugins.poll is True
    assert config.plugins.drain_timeout_s == 2.5
    assert config.django.settings == {"DEBUG": True}
    assert config.extensions == ["acme.metrics"]


def test_explicit_path_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "gw.yaml").write_text("wsgi: {threads: 4}\n")
    assert load_config(Path("gw.yaml"), env={}, cwd=tmp_path).wsgi.threads == 4


def test_explicit_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(Path("missing.yaml"), env={}, cwd=tmp_path)
    assert "missing.yaml" in str(info.value)
    assert "not found" in str(info.value)


def test_env_over_file(tmp_path: Path) -> None:
    env = {"GATEWAY_SERVER_PORT": "9001", "GATEWAY_PLUGINS_DIR": "/srv/plugins"}
    config = load(tmp_path, "server: {port: 9000, host: 0.0.0.0}\n", env=env)
    assert config.server.port == 9001
    assert config.server.host == "0.0.0.0"  # the rest of the section still comes from the file
    assert config.plugins.dir == Path("/srv/plugins")


def test_override_over_env(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "server: {port: 9000}\n",
        env={"GATEWAY_SERVER_PORT": "9001"},
        overrides={"server.port": 9002, "plugins.watch": False},
    )
    assert config.server.port == 9002
    assert config.plugins.watch is False


def test_none_override_is_ignored(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        env={"GATEWAY_SERVER_PORT": "9001"},
        overrides={"server.port": None, "server.host": None},
    )
    assert config.server.port == 9001
    assert config.server.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("no", False)],
)
def test_bool_from_env(tmp_path: Path, raw: str, expected: bool) -> None:
    config = load(tmp_path, env={"GATEWAY_PLUGINS_WATCH": raw, "GATEWAY_PLUGINS_POLL": raw})
    assert config.plugins.watch is expected
    assert config.plugins.poll is expected


def test_every_key_has_its_env_variable(tmp_path: Path) -> None:
    env = {
        "GATEWAY_SERVER_HOST": "0.0.0.0",
        "GATEWAY_SERVER_WORKERS": "3",
        "GATEWAY_PLUGINS_SETTLE_MS": "10",
        "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "0.5",
        "GATEWAY_WSGI_THREADS": "8",
        "GATEWAY_ADMIN_PREFIX": "/admin",
        "GATEWAY_ADMIN_TOKEN": "s3cret",
        "GATEWAY_DJANGO_SETTINGS": '{"TIME_ZONE": "UTC"}',
        "GATEWAY_EXTENSIONS": "acme.one, acme.two,,",
    }
    config = load(tmp_path, env=env)
    assert (config.server.host, config.server.workers) == ("0.0.0.0", 3)
    assert (config.plugins.settle_ms, config.plugins.drain_timeout_s) == (10, 0.5)
    assert config.wsgi.threads == 8
    assert (config.admin.prefix, config.admin.token) == ("/admin", "s3cret")
    assert config.django.settings == {"TIME_ZONE": "UTC"}
    assert config.extensions == ["acme.one", "acme.two"]


def test_other_gateway_variables_are_ignored(tmp_path: Path) -> None:
    env = {"GATEWAY_DJANGO": "x" * 50, "GATEWAY_WHATEVER": "1"}
    assert load(tmp_path, env=env) == Config()


def test_unknown_top_level_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, "sever: {port: 1}\n")
    assert str(error).startswith("config.yaml: unknown key 'sever' (known sections: server, ")
    assert (error.key, error.source) == ("sever", "config.yaml")


def test_unknown_nested_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, "server: {prot: 1}\n")
    assert str(error) == (
        "config.yaml: unknown key 'server.prot' (known keys in 'server': host, port, workers, access_log, log_format, log_level, forwarded_allow_ips, loop_stall_ms, header_timeout_s)"
    )
    assert error.key == "server.prot"


def test_unknown_override_key_names_its_flag(tmp_path: Path) -> None:
    error = load_error(tmp_path, overrides={"server.prot": 1})
    assert str(error).startswith("server.prot: unknown key 'server.prot'")


def test_bad_value_in_file(tmp_path: Path) -> None:
    error = load_error(tmp_path, "server:\n  port: abc\n")
    assert (
        str(error) == "config.yaml: server.port: expected an integer between 1 and 65535, got 'abc'"
    )
    assert (error.key, error.source) == ("server.port", "config.yaml")


def test_bad_value_in_env_names_the_variable(tmp_path: Path) -> None:
    error = load_error(tmp_path, "server: {port: 9000}\n", env={"GATEWAY_SERVER_PORT": "0"})
    assert str(error) == (
        "GATEWAY_SERVER_PORT: server.port: expected an integer between 1 and 65535, got '0'"
    )
    assert error.source == "GATEWAY_SERVER_PORT"


def test_bad_value_in_override_names_the_flag(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, env={"GATEWAY_SERVER_PORT": "9000"}, overrides={"server.port": 70000}
    )
    assert str(error) == "--port: server.port: expected an integer between 1 and 65535, got 70000"
    assert (error.key, error.source) == ("server.port", "--port")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATEWAY_PLUGINS_WATCH": "maybe"}, "plugins.watch: expected true or false, got 'maybe'"),
        ({"GATEWAY_WSGI_THREADS": "0"}, "wsgi.threads: expected an integer >= 1, got '0'"),
        ({"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "-1"}, "expected a number >= 0, got '-1'"),
        ({"GATEWAY_DJANGO_SETTINGS": "{oops"}, "django.settings: expected a JSON object"),
        ({"GATEWAY_DJANGO_SETTINGS": "[1]"}, "django.settings: expected a mapping, got [1]"),
    ],
)
def test_bad_env_values(tmp_path: Path, env: dict[str, str], message: str) -> None:
    error = load_error(tmp_path, env=env)
    assert str(error).startswith(next(iter(env)) + ": ")
    assert message in str(error)


def test_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    error = load_error(tmp_path, "server: 8000\n")
    assert (
        "server: expected a mapping with keys host, port, workers, access_log, log_format, "
        "log_level, forwarded_allow_ips, loop_stall_ms, header_timeout_s, got 8000"
    ) in str(error)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "server:\n  port: 8000\n  host: a: b\n")
    assert str(error) == "config.yaml:3: invalid YAML: mapping values are not allowed here"
    assert error.source == "config.yaml"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = load_error(tmp_path, "- server\n- plugins\n")
    assert str(error) == (
        "config.yaml: expected a mapping of sections at the top level, "
        "got list ['server', 'plugins']"
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("_gateway", "a path starting with '/'"),
        ("/", "a path below '/'"),
        ("/_gateway/", "a path without a trailing '/'"),
        ("/a//b", "a path whose segments are letters, digits"),
        ("/a b", "a path whose segments are letters, digits"),
    ],
)
def test_admin_prefix_is_validated(tmp_path: Path, prefix: str, expected: str) -> None:
    error = load_error(tmp_path, env={"GATEWAY_ADMIN_PREFIX": prefix})
    assert str(error).startswith(f"GATEWAY_ADMIN_PREFIX: admin.prefix: expected {expected}")
    assert str(error).endswith(f"got {prefix!r}")


@pytest.mark.parametrize("prefix", ["/_gateway", "/ops/gw-1", "/a.b~c_d"])
def test_good_admin_prefixes(prefix: str) -> None:
    assert AdminConfig(prefix=prefix).prefix == prefix


def test_empty_token_is_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, env={"GATEWAY_ADMIN_TOKEN": ""})
    assert str(error) == (
        "GATEWAY_ADMIN_TOKEN: admin.token: expected a non-empty string or null, got ''"
    )
    assert error.key == "admin.token"


def test_token_is_not_in_repr_nor_in_errors(tmp_path: Path) -> None:
    config = load(tmp_path, env={"GATEWAY_ADMIN_TOKEN": "hunter2-token"})
    assert config.admin.token == "hunter2-token"
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config)
    error = load_error(tmp_path, "admin: {token: [hunter2]}\n")
    assert "admin.token" in str(error)
    assert "hunter2" not in str(error)


def test_json_round_trip_keeps_the_token(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "plugins: {dir: services}\ndjango: {settings: {DEBUG: true}}\n",
        env={"GATEWAY_ADMIN_TOKEN": "s3cret", "GATEWAY_EXTENSIONS": "acme.metrics"},
    )
    again = config_from_json(config_to_json(config))
    assert again == config
    assert again.admin.token == "s3cret"
    assert again.plugins.dir == Path("services")


def test_bad_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"server\.port: expected an integer"):
        config_from_json('{"server": {"port": "x"}}')


def test_access_log_defaults_on_and_turns_off_by_env_or_flag(tmp_path: Path) -> None:
    assert load_config(env={}, cwd=tmp_path).server.access_log is True
    env = {"GATEWAY_SERVER_ACCESS_LOG": "false"}
    assert load_config(env=env, cwd=tmp_path).server.access_log is False
    flag = {"server.access_log": False}
    assert load_config(env={}, overrides=flag, cwd=tmp_path).server.access_log is False
