"""The code-style rules of CONVENTIONS.md that linters do not check, and that the linters run."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_lint_tools_are_pinned_and_run_before_the_tests() -> None:
    """ruff and mypy run in scripts/test (before pytest) and in pre-commit, at pinned versions:
    a new release of a checker must not turn CI red with no change to the code."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {
        req.split("==")[0]: req.split("==")[1]
        for req in project["optional-dependencies"]["dev"]
        if "==" in req
    }
    assert {"ruff", "mypy"} <= set(pins)
    script = (REPO / "scripts" / "test").read_text()
    checks = ["ruff check", "ruff format --check", "mypy"]
    assert all(script.index(c) < script.index("-m pytest") for c in checks)
    assert "scripts/test" in (REPO / ".ci" / "run").read_text()
    hooks = (REPO / ".pre-commit-config.yaml").read_text()
    assert all(c in hooks for c in checks)
    readme = (REPO / "README.md").read_text()
    assert "scripts/test" in readme.split("```")[1]  # the README's test command


def test_public_api_is_short_and_explicit() -> None:
    import gateway

    assert sorted(gateway.__all__) == sorted(set(gateway.__all__))
    assert all(hasattr(gateway, name) for name in gateway.__all__)
    init = (REPO / "gateway" / "__init__.py").read_text()
    assert len(init.splitlines()) < 60


def test_lazy_exports_match_all() -> None:
    import gateway

    assert sorted(gateway._WHERE) == sorted(gateway.__all__)


def test_django_is_imported_only_when_a_django_plugin_needs_it() -> None:
    code = "import sys, gateway.app, gateway.cli; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "False", result.stderr
