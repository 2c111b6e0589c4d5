"""A plugin's ``requirements.txt`` checked against the installed distributions."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from gateway.errors import PluginError
from gateway.requirements import check_requirements, unmet_requirements

PLUGGY = metadata.version("pluggy")


def requirements(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "requirements.txt"
    file.write_text(text, encoding="utf-8")
    return file


def unmet(tmp_path: Path, text: str) -> list[str]:
    return unmet_requirements(requirements(tmp_path, text), "shop")


def test_met_requirements(tmp_path: Path) -> None:
    text = "pluggy\npluggy>=1.0\nPyYAML>=5\npyyaml\nuvicorn[standard]>=0.1\ntyping_extensions\n"
    assert unmet(tmp_path, text) == []


def test_unmet_version_says_what_is_installed(tmp_path: Path) -> None:
    assert unmet(tmp_path, "pluggy<1\n") == [f"pluggy<1 (installed: {PLUGGY})"]


def test_missing_package(tmp_path: Path) -> None:
    assert unmet(tmp_path, "no-such-package-xyz>=1.0\n") == [
        "no-such-package-xyz>=1.0 (not installed)"
    ]


def test_every_unmet_one_is_listed_in_order(tmp_path: Path) -> None:
    text = "no-such-package-xyz\npluggy\npluggy==0.0.1\n"
    assert unmet(tmp_path, text) == [
        "no-such-package-xyz (not installed)",
        f"pluggy==0.0.1 (installed: {PLUGGY})",
    ]


def test_markers_that_do_not_apply_are_skipped(tmp_path: Path) -> None:
    text = (
        'no-such-package-xyz; python_version < "3"\n'
        'no-such-package-abc; sys_platform == "no-such-platform"\n'
    )
    assert unmet(tmp_path, text) == []


def test_markers_that_apply_are_checked(tmp_path: Path) -> None:
    assert unmet(tmp_path, 'no-such-package-xyz; python_version >= "3"\n') == [
        'no-such-package-xyz; python_version >= "3" (not installed)'
    ]


def test_comments_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    text = (
        "# the web framework\n"
        "\n"
        "   \n"
        "pluggy>=1  # inline comment\n"
        "pyyaml\t# after a tab\n"
        "  # indented comment\n"
    )
    assert unmet(tmp_path, text) == []


def test_comment_is_not_part_of_the_reported_requirement(tmp_path: Path) -> None:
    assert unmet(tmp_path, "pluggy<1  # too old on purpose\n") == [
        f"pluggy<1 (installed: {PLUGGY})"
    ]


def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes("\ufeffpluggy\n".encode())
    assert unmet_requirements(tmp_path / "requirements.txt", "shop") == []


@pytest.mark.parametrize(
    "line",
    [
        "-r other.txt",
        "--index-url https://example.org/simple",
        "-e .",
        "--hash=sha256:0000",
        "https://example.org/pkg-1.0.tar.gz",
        "pluggy>>1",
    ],
)
def test_lines_that_cannot_be_checked_are_refused_with_their_line(
    tmp_path: Path, line: str
) -> None:
    file = requirements(tmp_path, f"# header\npluggy\n{line}\n")
    with pytest.raises(PluginError) as info:
        unmet_requirements(file, "shop")
    error = info.value
    assert error.kind == "RequirementError"
    assert error.file == str(file)
    assert f"line 3: cannot check requirement {line!r}" in str(error)


def test_no_requirements_file_is_fine(tmp_path: Path) -> None:
    check_requirements(tmp_path, "shop")


def test_unmet_requirements_fail_the_plugin_listing_them(tmp_path: Path) -> None:
    requirements(tmp_path, "pluggy\nno-such-package-xyz>=1.0\nstarlette<0.1\n")
    with pytest.raises(PluginError) as info:
        check_requirements(tmp_path, "shop")
    message = str(info.value)
    assert info.value.kind == "RequirementError"
    assert "requirements.txt" in message
    assert "no-such-package-xyz>=1.0 (not installed)" in message
    assert f"starlette<0.1 (installed: {metadata.version('starlette')})" in message
    assert "pluggy," not in message
    assert "installs nothing" in message


def test_met_requirements_file_passes(tmp_path: Path) -> None:
    requirements(tmp_path, "pluggy\npyyaml>=5\n")
    check_requirements(tmp_path, "shop")


def test_undecodable_file_is_a_plugin_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"pluggy\n\xff\xfe\n")
    with pytest.raises(PluginError) as info:
        check_requirements(tmp_path, "shop")
    assert "cannot read requirements" in str(info.value)
    assert "requirements.txt" in str(info.value)
