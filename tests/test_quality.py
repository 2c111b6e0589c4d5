"""The code-style rules of CONVENTIONS.md, enforced: ruff clean and mypy strict on gateway/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_is_clean() -> None:
    result = run(
        "ruff", "check", *(d for d in ("gateway", "tests", "bench") if (REPO / d).is_dir())
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


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
