"""Plugin names and ``plugin.yaml``: defaults, validation, and the messages a user reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import PluginError
from gateway.manifest import (
    Manifest,
    is_candidate,
    normalise_prefix,
    read_manifest,
    validate_name,
)


def plugin(tmp_path: Path, manifest: str | None, name: str = "shop") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    if manifest is not None:
        (folder / "plugin.yaml").write_text(manifest, encoding="utf-8")
    return folder


def manifest_error(folder: Path) -> PluginError:
    with pytest.raises(PluginError) as info:
        read_manifest(folder, folder.name)
    error = info.value
    assert error.kind == "ManifestError"
    assert error.plugin == folder.name
    assert error.file == str(folder / "plugin.yaml")
    assert "plugin.yaml" in str(error)
    return error


# --- defaults ---------------------------------------------------------------------------


def test_no_manifest_means_every_default(tmp_path: Path) -> None:
    folder = plugin(tmp_path, None)
    assert read_manifest(folder, "shop") == Manifest(
        framework=None, app=None, prefix="/shop", enabled=True, file=None
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_manifest_means_every_default(tmp_path: Path, text: str) -> None:
    folder = plugin(tmp_path, text)
    manifest = read_manifest(folder, "shop")
    assert (manifest.framework, manifest.app, manifest.prefix, manifest.enabled) == (
        None,
        None,
        "/shop",
        True,
    )
    assert manifest.file == folder / "plugin.yaml"


def test_every_key_is_read(tmp_path: Path) -> None:
    text = "framework: flask\napp: web.main:create.app\nprefix: /store\nenabled: false\n"
    manifest = read_manifest(plugin(tmp_path, text), "shop")
    assert manifest.framework == "flask"
    assert manifest.app == "web.main:create.app"
    assert manifest.prefix == "/store"
    assert manifest.enabled is False


def test_default_prefix_is_the_folder_name(tmp_path: Path) -> None:
    folder = plugin(tmp_path, "framework: fastapi\n", name="my-shop_2")
    assert read_manifest(folder, "my-shop_2").prefix == "/my-shop_2"


# --- prefix -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/store", "/store"),
        ("/store/", "/store"),
        ("/store//", "/store"),
        ("/api/v1/", "/api/v1"),
        ("/", "/"),
        ("//", "/"),
        ("/a.b~c-d_e", "/a.b~c-d_e"),
    ],
)
def test_prefix_is_normalised(tmp_path: Path, given: str, expected: str) -> None:
    assert normalise_prefix(given) == expected
    assert read_manifest(plugin(tmp_path, f"prefix: '{given}'\n"), "shop").prefix == expected


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("store", "must start with '/'"),
        ("/a//b", "invalid segment ''"),
        ("/a/../b", "invalid segment '..'"),
        ("/a/./b", "invalid segment '.'"),
        ("/shop?x=1", "invalid segment"),
        ("/sh op", "invalid segment"),
    ],
)
def test_bad_prefix_is_refused_with_the_value(tmp_path: Path, bad: str, says: str) -> None:
    error = manifest_error(plugin(tmp_path, f"prefix: '{bad}'\n"))
    assert "prefix" in str(error)
    assert repr(bad) in str(error)
    assert says in str(error)


def test_non_string_prefix_is_refused(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "prefix: 42\n"))
    assert "prefix" in str(error)
    assert "42" in str(error)


# --- keys and values --------------------------------------------------------------------


def test_unknown_key_is_named_with_the_known_ones(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "framework: fastapi\nprefx: /typo\n"))
    message = str(error)
    assert "unknown key 'prefx'" in message
    for known in ("framework", "app", "prefix", "enabled"):
        assert known in message


def test_every_problem_is_listed(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "prefx: /a\nprefix: nope\n"))
    assert "'prefx'" in str(error)
    assert "'nope'" in str(error)


def test_enabled_must_be_a_boolean(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "enabled: sometimes\n"))
    assert "enabled" in str(error)
    assert "'sometimes'" in str(error)


@pytest.mark.parametrize("ref", ["app", "app:app", "pkg.web:make.app", "_private:_app"])
def test_good_app_refs(tmp_path: Path, ref: str) -> None:
    assert read_manifest(plugin(tmp_path, f"app: '{ref}'\n"), "shop").app == ref


@pytest.mark.parametrize("ref", ["my-app:app", ":app", "app:1st", "app:a b", "app..x:app", "a:b:c"])
def test_bad_app_ref_is_refused(tmp_path: Path, ref: str) -> None:
    error = manifest_error(plugin(tmp_path, f"app: '{ref}'\n"))
    assert "app" in str(error)
    assert "module:attribute" in str(error)
    assert repr(ref) in str(error)


# --- not a manifest at all --------------------------------------------------------------


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "framework: fastapi\nprefix: /x\napp: [app\n"))
    assert "invalid YAML at line 4" in str(error)


def test_bad_yaml_tab_indent_names_the_line(tmp_path: Path) -> None:
    error = manifest_error(plugin(tmp_path, "framework: fastapi\n\tprefix: /x\n"))
    assert "invalid YAML at line 2" in str(error)


@pytest.mark.parametrize(
    ("text", "got"), [("- fastapi\n- flask\n", "list"), ("fastapi\n", "str"), ("3\n", "int")]
)
def test_manifest_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    error = manifest_error(plugin(tmp_path, text))
    assert "expected a mapping" in str(error)
    assert got in str(error)


def test_undecodable_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    folder = plugin(tmp_path, None)
    (folder / "plugin.yaml").write_bytes(b"framework: \xff\xfe\n")
    manifest_error(folder)


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shop", "a", "0day", "my-shop", "my_shop", "v2-api_x"])
def test_valid_names(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize(
    "name", ["Shop", "-shop", "_shop", ".shop", "my shop", "my.shop", "café", "", "shop/x"]
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(PluginError) as info:
        validate_name(name)
    assert f"invalid plugin name {name!r}" in str(info.value)
    assert "lower-case" in str(info.value)


@pytest.mark.parametrize(
    ("name", "looked_at"),
    [("shop", True), (".shop.tmp", False), ("_staging", False), (".git", False), ("Shop", True)],
)
def test_hidden_and_staging_folders_are_not_candidates(name: str, looked_at: bool) -> None:
    assert is_candidate(name) is looked_at
