"""The ``gateway`` command as a user runs it: exit codes, messages, no tracebacks.

Every case runs the real command (``python -m gateway ...``) in its own working folder. The
cases are independent processes, so a module fixture starts them all at once and each test
asserts on its own case's outcome: the file stays fast however many cases it has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FIXTURES


@dataclass
class Case:
    """One or more commands run in a fresh working folder (later ones see earlier results)."""

    commands: list[list[str]]
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    fixtures: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    cwd: Path
    results: list[subprocess.CompletedProcess[str]]

    @property
    def last(self) -> subprocess.CompletedProcess[str]:
        return self.results[-1]


def gateway(*args: str) -> list[str]:
    return list(args)


CONFIG_ERRORS = {
    "bad-value-in-file": (
        Case([gateway("run")], files={"config.yaml": "server:\n  port: abc\n"}),
        ["config.yaml", "server.port", "expected an integer between 1 and 65535", "'abc'"],
    ),
    "unknown-key-in-file": (
        Case([gateway("run")], files={"config.yaml": "server:\n  prt: 9000\n"}),
        ["config.yaml", "unknown key 'server.prt'", "host, port, workers"],
    ),
    "bad-env-var": (
        Case([gateway("run")], env={"GATEWAY_SERVER_PORT": "x"}),
        ["GATEWAY_SERVER_PORT", "server.port", "expected an integer", "'x'"],
    ),
    "bad-flag-value": (
        Case([gateway("run", "--workers", "0")]),
        ["--workers", "server.workers", "expected an integer >= 1", "got 0"],
    ),
    "plugins-dir-missing-flag": (
        Case([gateway("run", "--plugins", "no-such-dir")]),
        ["plugins.dir", "'no-such-dir'", "not a folder"],
    ),
}

USAGE_ERRORS = {
    "unknown-command": gateway("serve"),
    "new-without-framework": gateway("new", "blog"),
    "new-bad-framework": gateway("new", "blog", "--framework", "rails"),
}

#: fixture -> what the error must say, besides naming the file at fault
BROKEN = {
    "broken-syntax": ("app.py", "syntax error at line 3"),
    "broken-relative": ("app.py", "relative import"),
    "broken-manifest": ("plugin.yaml", "unknown key 'prefx'"),
    "broken-requirements": ("requirements.txt", "no-such-package-xyz>=1.0 (not installed)"),
}

GOOD = {
    "shop": ("fastapi", "/shop", ["GET /", "GET /{rest:path}"]),
    # isolated: the routes come from the plugin's worker process
    "iso-echo": ("fastapi", "/iso-echo", ["GET /crash/{how}", "POST /upload", "* /ws"]),
    "iso-djproject": ("django-project", "/iso-djproject", ["* admin/ (Django admin)"]),
}
#: plugin.yaml of the GOOD fixtures that need one
MANIFESTS = {"iso-echo": "isolation: process\n", "iso-djproject": "isolation: process\n"}

#: framework -> routes its skeleton must list
SKELETONS = {
    "fastapi": ["GET /", "GET /items/{item_id}"],
    "flask": ["GET /", "GET /hello/<who>"],
    "functions": ["GET /hello", "GET,POST /add", "GET /divide"],
    "django": ["notes/", "admin/"],
}

CASES: dict[str, Case] = {
    **{f"config:{k}": case for k, (case, _) in CONFIG_ERRORS.items()},
    **{f"usage:{k}": Case([args]) for k, args in USAGE_ERRORS.items()},
    **{f"broken:{k}": Case([gateway("check", k)], fixtures=[k]) for k in BROKEN},
    **{
        f"good:{k}": Case(
            [gateway("check", k)],
            fixtures=[k],
            files={f"{k}/plugin.yaml": MANIFESTS[k]} if k in MANIFESTS else {},
        )
        for k in GOOD
    },
    **{
        f"new:{fw}": Case(
            [
                gateway("new", f"my-{fw}", "--framework", fw, "--dir", "out"),
                gateway("check", f"out/my-{fw}"),
            ]
        )
        for fw in SKELETONS
    },
    "new:default-dir": Case(
        [gateway("new", "hello", "--framework", "functions")],
        files={"config.yaml": "plugins:\n  dir: services\n"},
    ),
    "new:existing": Case(
        [gateway("new", "shop", "--framework", "flask", "--dir", ".")], fixtures=["shop"]
    ),
    "new:bad-name": Case([gateway("new", "My_Blog", "--framework", "flask", "--dir", "out")]),
    "new:stale-staging": Case(
        [gateway("new", "blog", "--framework", "fastapi", "--dir", "out")],
        files={"out/.blog.tmp/app.py": "half written\n"},
    ),
    "help": Case([gateway("--help")]),
}


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def run_case(cwd: Path, case: Case) -> Outcome:
    cwd.mkdir(parents=True)
    for name in case.fixtures:
        shutil.copytree(FIXTURES / name, cwd / name, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, text in case.files.items():
        (cwd / relative).parent.mkdir(parents=True, exist_ok=True)
        (cwd / relative).write_text(text)
    results = []
    for args in case.commands:
        try:
            result = subprocess.run(
                [sys.executable, "-m", "gateway", *args],
                cwd=cwd,
                env=clean_env(case.env),
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired as exc:
            # e.g. a configuration error that went unnoticed, so `run` started serving
            result = subprocess.CompletedProcess(exc.cmd, -9, str(exc.stdout), "TIMED OUT")
        results.append(result)
        if result.returncode != 0:
            break
    return Outcome(cwd, results)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Outcome]:
    root = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) + 1) as pool:
        futures = {
            key: pool.submit(run_case, root / key.replace(":", "-"), case)
            for key, case in CASES.items()
        }
        outcomes = {key: future.result() for key, future in futures.items()}
    return outcomes.__getitem__


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_user_error(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, output(result)
    assert "Traceback" not in output(result), output(result)


# --- configuration errors: exit 1, the key named, no traceback ----------------------------


@pytest.mark.parametrize("key", list(CONFIG_ERRORS))
def test_configuration_error(outcome: Callable[[str], Outcome], key: str) -> None:
    result = outcome(f"config:{key}").last
    assert_user_error(result, 1)
    assert result.stderr.startswith("gateway: error: "), result.stderr
    for expected in CONFIG_ERRORS[key][1]:
        assert expected in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- bad usage: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize("key", list(USAGE_ERRORS))
def test_bad_usage_exits_2(outcome: Callable[[str], Outcome], key: str) -> None:
    result = outcome(f"usage:{key}").last
    assert_user_error(result, 2)
    assert "usage: gateway" in result.stderr


def test_bad_framework_choice_lists_the_choices(outcome: Callable[[str], Outcome]) -> None:
    stderr = outcome("usage:new-bad-framework").last.stderr
    assert "'rails'" in stderr
    for framework in SKELETONS:
        assert framework in stderr


def test_missing_framework_is_named(outcome: Callable[[str], Outcome]) -> None:
    assert "--framework" in outcome("usage:new-without-framework").last.stderr


# --- gateway check ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GOOD))
def test_check_describes_a_good_plugin(outcome: Callable[[str], Outcome], name: str) -> None:
    result = outcome(f"good:{name}").last
    assert result.returncode == 0, output(result)
    framework, prefix, routes = GOOD[name]
    assert f"plugin:    {name}" in result.stdout
    assert f"framework: {framework}\n" in result.stdout
    assert f"prefix:    {prefix}\n" in result.stdout
    assert "status:    active" in result.stdout
    listed = result.stdout.split("routes:\n", 1)[1].splitlines()
    for route in routes:
        assert any(line.strip().startswith(route) for line in listed), result.stdout


@pytest.mark.parametrize("name", list(BROKEN))
def test_check_reports_a_broken_plugin(outcome: Callable[[str], Outcome], name: str) -> None:
    done = outcome(f"broken:{name}")
    result = done.last
    assert_user_error(result, 1)
    file, says = BROKEN[name]
    error_lines = [line for line in result.stderr.splitlines() if "gateway: error:" in line]
    assert len(error_lines) == 1, result.stderr
    assert str(done.cwd / name / file) in error_lines[0]
    assert says in error_lines[0]
    assert "status:    failed" in result.stdout


# --- gateway new ------------------------------------------------------------------------


@pytest.mark.parametrize("framework", list(SKELETONS))
def test_new_skeleton_passes_check(outcome: Callable[[str], Outcome], framework: str) -> None:
    done = outcome(f"new:{framework}")
    written, checked = done.results if len(done.results) == 2 else (done.results[0], None)
    assert written.returncode == 0, output(written)
    folder = done.cwd / "out" / f"my-{framework}"
    assert str(Path("out") / f"my-{framework}") in written.stdout
    assert f"framework: {framework}" in (folder / "plugin.yaml").read_text()
    assert [p.name for p in (done.cwd / "out").iterdir()] == [f"my-{framework}"]  # no staging
    assert checked is not None
    assert checked.returncode == 0, output(checked)
    assert f"framework: {framework}\n" in checked.stdout
    assert f"prefix:    /my-{framework}\n" in checked.stdout
    for route in SKELETONS[framework]:
        assert route in checked.stdout, checked.stdout


def test_new_writes_into_the_configured_plugins_dir(outcome: Callable[[str], Outcome]) -> None:
    done = outcome("new:default-dir")
    assert done.last.returncode == 0, output(done.last)
    assert (done.cwd / "services" / "hello" / "app.py").is_file()


def test_new_refuses_an_existing_folder(outcome: Callable[[str], Outcome]) -> None:
    done = outcome("new:existing")
    assert_user_error(done.last, 1)
    assert "already exists" in done.last.stderr
    assert "shop" in done.last.stderr
    # untouched: still the fixture, no manifest written over it
    assert not (done.cwd / "shop" / "plugin.yaml").exists()
    assert (done.cwd / "shop" / "app.py").read_text() == (FIXTURES / "shop" / "app.py").read_text()


def test_new_refuses_an_invalid_name(outcome: Callable[[str], Outcome]) -> None:
    done = outcome("new:bad-name")
    assert_user_error(done.last, 1)
    assert "invalid plugin name 'My_Blog'" in done.last.stderr
    assert not (done.cwd / "out").exists()


def test_new_is_not_stopped_by_a_leftover_staging_folder(
    outcome: Callable[[str], Outcome],
) -> None:
    done = outcome("new:stale-staging")
    assert done.last.returncode == 0, output(done.last)
    assert (done.cwd / "out" / "blog" / "app.py").read_text().startswith('"""The blog plugin')


# --- help -------------------------------------------------------------------------------


def test_help(outcome: Callable[[str], Outcome]) -> None:
    result = outcome("help").last
    assert result.returncode == 0, output(result)
    assert result.stdout.startswith("usage: gateway")
    for command in ("run", "check", "new"):
        assert command in result.stdout


def test_console_script_is_installed() -> None:
    script = shutil.which("gateway", path=str(Path(sys.executable).parent))
    assert script is not None, "the 'gateway' console script is not installed next to python"
