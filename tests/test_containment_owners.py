"""Placing running code in a plugin (gateway.containment.owners): by its version's package,
else by its file under the plugins folder, else nobody's."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from gateway.containment.owners import Owner, Owners

CODE = """
import sys

def where():
    return sys._getframe()

def outer(callback):
    return callback()
"""


def module(name: str, filename: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(compile(CODE, filename, "exec"), mod.__dict__)
    return mod


def test_a_frame_is_placed_by_its_package_then_by_its_file(tmp_path: Path) -> None:
    owners = Owners(tmp_path / "plugins")
    owners.add("gateway_plugin_shop_7", "shop", 3)
    mounted = module("gateway_plugin_shop_7.views", str(tmp_path / "elsewhere" / "views.py"))
    frame = mounted.where()
    assert owners.of_frame(frame) == Owner("shop", 3)
    # A version not (or no longer) known: its file says whose it is, not which generation.
    owners.discard("gateway_plugin_shop_7")
    loose = module("gateway_plugin_shop_8.views", str(tmp_path / "plugins" / "shop" / "views.py"))
    assert owners.of_frame(loose.where()) == Owner("shop", None)
    assert owners.of_frame(sys._getframe()) is None
    assert owners.plugin_of_module("gateway_plugin_shop_7.views") is None


def test_the_innermost_plugin_frame_is_the_place(tmp_path: Path) -> None:
    owners = Owners(tmp_path / "plugins")
    owners.add("gateway_plugin_blog_1", "blog", 1)
    plugin = module("gateway_plugin_blog_1.app", str(tmp_path / "plugins" / "blog" / "app.py"))
    library = module("somelib", "/usr/lib/somelib.py")
    # plugin code calls a library, which is where the time goes: the plugin is named, at the
    # line of its own frame.
    frame = plugin.outer(library.where)
    place = owners.place(frame)
    assert place is not None and place.owner == Owner("blog", 1)
    assert place.file.endswith("blog/app.py") and place.function == "outer"
    assert str(place.owner) == "plugin blog (generation 1)"
    # No plugin frame at all: the innermost frame, owned by nobody.
    nobody = owners.place(library.where())
    assert nobody is not None and nobody.owner is None and nobody.function == "where"
