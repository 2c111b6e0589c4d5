"""Checking a plugin's ``requirements.txt`` against what is installed (nothing is installed)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from .errors import RequirementError

REQUIREMENTS_FILE = "requirements.txt"
#: pip's rule: a comment starts at a "#" at the start of a line or after whitespace
_COMMENT = re.compile(r"(^|\s)#.*$")


def unmet_requirements(file: Path, plugin: str) -> list[str]:
    """Return the requirements in ``file`` that the running environment does not satisfy.

    Each entry says what was asked and what is installed. Lines that pip options would need
    (``-r``, ``-e``, URLs) cannot be checked and are refused with their line number.
    """
    try:
        # utf-8-sig: a BOM (as Windows editors write) is not part of the first requirement.
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RequirementError(
            f"cannot read requirements: {exc}", plugin=plugin, file=file
        ) from None
    unmet: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        try:
            if line.startswith("-"):
                raise InvalidRequirement("pip options are not supported")
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise RequirementError(
                f"line {number}: cannot check requirement {line!r}: {exc}",
                plugin=plugin,
                file=file,
            ) from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{line} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{line} (installed: {installed})")
    return unmet


def check_requirements(folder: Path, plugin: str) -> None:
    """Fail the plugin with a message listing its unmet requirements, if any."""
    file = folder / REQUIREMENTS_FILE
    if not file.is_file():
        return
    unmet = unmet_requirements(file, plugin)
    if unmet:
        raise RequirementError(
            "unmet requirements: "
            + ", ".join(unmet)
            + " (the gateway installs nothing at run time: install them in its environment)",
            plugin=plugin,
            file=file,
        )
