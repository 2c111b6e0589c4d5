"""A virtualenv per isolated plugin (``venv: true``), built with ``uv`` from its
``requirements.txt``.

The venv is keyed by a hash of the requirements file and of the interpreter, under
``data/venvs/<name>-<sha256[:16]>``: an unchanged file reuses it, a changed one builds a new
one next to it (the running version keeps its own). It is built in a temporary folder and
renamed into place, so a half-built venv is never used. The build runs in subprocesses,
never on the event loop.

The worker must still import the gateway and its dependencies from the venv's interpreter:
a ``.pth`` file in the venv adds the gateway environment's site-packages with
``site.addsitedir`` (which also runs *their* ``.pth`` files, e.g. an editable install of the
gateway). ``site`` processes the venv's own site-packages first, so those come later on
``sys.path`` and the plugin's versions of a package win over the gateway's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import site
import sys
import sysconfig
import uuid
from pathlib import Path

from ..errors import VenvError
from .spec import WorkerSpec, inherited_environment

logger = logging.getLogger(__name__)

REQUIREMENTS = "requirements.txt"
COMPLETE_MARKER = ".gateway-venv-complete"
PTH_FILE = "_gateway_environment.pth"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: the box-drawing uv puts around its error report
_DECORATION = re.compile(r"^[\s\u00d7\u2570\u2500\u25b6\u2502]+")


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise FileNotFoundError("uv is not installed (pip install uv)") from None
        return found


def venv_key(spec: WorkerSpec) -> str:
    requirements = spec.folder / REQUIREMENTS
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes() if requirements.is_file() else b"")
    # Same requirements on another interpreter (an upgraded Python) is another venv.
    digest.update(b"\0" + spec.python.encode() + b"\0" + sys.version.encode())
    return f"{spec.name}-{digest.hexdigest()[:16]}"


def gateway_site_dirs() -> list[str]:
    """Where this (the gateway's) interpreter finds its installed packages."""
    dirs = [
        *site.getsitepackages(),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
    ]
    return list(dict.fromkeys(d for d in dirs if Path(d).is_dir()))


async def ensure_venv(spec: WorkerSpec) -> str:
    """Return the Python executable of ``spec``'s venv, building it if needed."""
    target = spec.venvs_dir / venv_key(spec)
    python = target / "bin" / "python"
    if (target / COMPLETE_MARKER).is_file():
        return str(python)
    spec.venvs_dir.mkdir(parents=True, exist_ok=True)
    building = spec.venvs_dir / f".{target.name}.{uuid.uuid4().hex[:8]}"
    try:
        try:
            await _build(spec, building)
        except OSError as exc:  # uv missing, disk full, ...
            raise VenvError(
                f"virtualenv build failed: {exc}", plugin=spec.name, file=spec.folder / REQUIREMENTS
            ) from None
        try:
            building.rename(target)
        except OSError:
            if not (target / COMPLETE_MARKER).is_file():  # not a concurrent build that won
                raise
    finally:
        if building.exists():
            await asyncio.to_thread(shutil.rmtree, building, True)
    logger.info("plugin %s: virtualenv ready in %s", spec.name, target)
    return str(python)


async def _build(spec: WorkerSpec, folder: Path) -> None:
    uv = uv_binary()
    await _run(spec, [uv, "venv", "--quiet", "--relocatable", "--python", spec.python, str(folder)])
    requirements = spec.folder / REQUIREMENTS
    if requirements.is_file():
        await _run(
            spec,
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(folder / "bin" / "python"),
                "-r",
                str(requirements),
            ],
            what=f"installing {REQUIREMENTS}",
        )
    site_packages = await _site_packages(spec, folder / "bin" / "python")
    lines = [f"import site; site.addsitedir({d!r})" for d in gateway_site_dirs()]
    (site_packages / PTH_FILE).write_text("\n".join(lines) + "\n")
    (folder / COMPLETE_MARKER).write_text(venv_key(spec) + "\n")


async def _site_packages(spec: WorkerSpec, python: Path) -> Path:
    out = await _run(
        spec, [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    )
    return Path(out.strip())


async def _run(spec: WorkerSpec, argv: list[str], what: str = "") -> str:
    # Building a package's sdist runs its code: it gets what a worker gets, no admin token.
    env = {**inherited_environment(os.environ), "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        reason = _ANSI.sub("", err.decode(errors="replace")).strip()
        lines = [_DECORATION.sub("", line) for line in reason.splitlines() if line.strip()]
        raise VenvError(
            f"virtualenv build failed{' ' + what if what else ''}: " + " ".join(lines[-12:]),
            plugin=spec.name,
            file=spec.folder / REQUIREMENTS,
        )
    return out.decode()
