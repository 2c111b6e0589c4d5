"""Each plugin version in its own module namespace (gateway.namespace), and what the loader
(gateway.loader) reports when a plugin's code cannot become an app."""

from __future__ import annotations

import itertools
import os
import py_compile
import sys
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Config, PluginsConfig
from gateway.errors import PluginError
from gateway.extensions import build_plugin_manager
from gateway.loader import LoadedApp, LoadServices, PluginSource, load_app
from gateway.manifest import read_manifest
from gateway.namespace import PACKAGE_PREFIX, Namespace

_counter = itertools.count()


def write(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def namespace() -> Iterator[Callable[[Path], Namespace]]:
    """Namespaces with unique package names, released after the test."""
    made: list[Namespace] = []

    def make(folder: Path) -> Namespace:
        ns = Namespace(folder, f"{PACKAGE_PREFIX}test_{folder.name}_{next(_counter)}")
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.release()


def twin(tmp_path: Path, name: str) -> Path:
    return write(
        tmp_path / name,
        {
            "app.py": """
                from . import views
                from .views import who

                app = ("app", who())
            """,
            "views.py": """
                from .models import WHO

                def who():
                    return WHO
            """,
            "models.py": f"WHO = {name!r}\n",
        },
    )


# --- namespaces -------------------------------------------------------------------------


def test_relative_imports_work(tmp_path: Path, namespace: Callable[[Path], Namespace]) -> None:
    ns = namespace(twin(tmp_path, "alpha"))
    app = ns.import_module("app")
    assert app.app == ("app", "alpha")
    assert app.views.__name__ == f"{ns.package}.views"
    assert app.__file__ == str(tmp_path / "alpha" / "app.py")


def test_subpackages_with_and_without_init(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    folder = write(
        tmp_path / "deep",
        {
            "app.py": "from .pkg.inner import VALUE\nfrom .loose.helper import HELP\n",
            "pkg/__init__.py": "",
            "pkg/inner.py": "from ..sibling import BASE\nVALUE = BASE + 1\n",
            "sibling.py": "BASE = 41\n",
            "loose/helper.py": "HELP = 'namespace package'\n",
        },
    )
    app = namespace(folder).import_module("app")
    assert (app.VALUE, app.HELP) == (42, "namespace package")


def test_package_init_runs_on_create(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    folder = write(tmp_path / "inited", {"__init__.py": "SETTING = 'from init'\n"})
    ns = namespace(folder)
    assert ns.create().SETTING == "from init"
    assert sys.modules[ns.package].SETTING == "from init"


def test_two_plugins_with_the_same_module_names_do_not_see_each_other(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    a = namespace(twin(tmp_path, "twin-a")).import_module("app")
    b = namespace(twin(tmp_path, "twin-b")).import_module("app")
    assert a.app == ("app", "twin-a")
    assert b.app == ("app", "twin-b")
    assert a.views is not b.views
    # Nothing leaks out as a top-level module another plugin (or the gateway) could pick up.
    for top in ("app", "views", "models"):
        assert top not in sys.modules or not str(
            getattr(sys.modules[top], "__file__", "")
        ).startswith(str(tmp_path))


def test_two_versions_of_one_folder_hold_their_own_code(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    folder = twin(tmp_path, "shop")
    old = namespace(folder).import_module("app")
    (folder / "models.py").write_text("WHO = 'shop v2'\n")
    new = namespace(folder).import_module("app")
    assert old.app == ("app", "shop")
    assert new.app == ("app", "shop v2")
    assert old.views.who() == "shop"  # the draining version keeps its own modules


def test_an_edit_in_the_same_second_with_the_same_size_is_seen(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    """A ``.pyc`` is trusted when the source's mtime (in whole seconds) and size match it."""
    folder = twin(tmp_path, "shop")
    models = folder / "models.py"
    models.write_text("WHO = 'aaaa'\n")
    before = models.stat()
    py_compile.compile(str(models), doraise=True)  # a cached .pyc, as an earlier run leaves
    first = namespace(folder).import_module("models")
    assert first.WHO == "aaaa"

    models.write_text("WHO = 'bbbb'\n")  # same size ...
    os.utime(models, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... and the same second
    assert models.stat().st_size == before.st_size

    second = namespace(folder).import_module("models")
    assert second.WHO == "bbbb"
    assert first.WHO == "aaaa"


def test_a_file_added_after_a_first_import_is_found_by_a_later_version(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    folder = twin(tmp_path, "shop")
    namespace(folder).import_module("app")
    with pytest.raises(ModuleNotFoundError):
        namespace(folder).import_module("extra")
    listed = folder.stat()
    (folder / "extra.py").write_text("ADDED = True\n")
    # A folder listing cached by mtime would not notice; the plugin finder must not cache.
    os.utime(folder, ns=(listed.st_atime_ns, listed.st_mtime_ns))
    assert namespace(folder).import_module("extra").ADDED is True


def test_release_removes_every_module(
    tmp_path: Path, namespace: Callable[[Path], Namespace]
) -> None:
    folder = write(twin(tmp_path, "shop"), {"pkg/__init__.py": "", "pkg/deep.py": "X = 1\n"})
    ns = namespace(folder)
    ns.import_module("app")
    ns.import_module("pkg.deep")
    names = ns.modules()
    assert {ns.package, f"{ns.package}.app", f"{ns.package}.views", f"{ns.package}.models"} <= set(
        names
    )
    assert f"{ns.package}.pkg.deep" in names

    other = namespace(folder)
    other.import_module("app")
    ns.release()

    assert not [m for m in sys.modules if m == ns.package or m.startswith(ns.package + ".")]
    assert ns.modules() == []
    assert ns.module is None
    assert f"{other.package}.app" in sys.modules  # another version is left alone


def test_relative_name_is_what_a_user_wrote(tmp_path: Path) -> None:
    ns = Namespace(tmp_path, "gateway_plugin_shop_3")
    assert ns.relative_name("gateway_plugin_shop_3.views.detail") == "views.detail"
    assert "gateway_plugin_shop_3" in repr(ns)


# --- the loader's errors ----------------------------------------------------------------


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Callable[..., LoadedApp]]:
    """Load a plugin folder of ``tmp_path/plugins`` with a real Gateway's hooks."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    plugin_manager, _ = build_plugin_manager(entry_points=False)
    executor = ThreadPoolExecutor(max_workers=2)
    services = LoadServices(executor, Config(), tmp_path / "data")
    namespaces: list[Namespace] = []

    def run(name: str, files: dict[str, str]) -> LoadedApp:
        folder = write(plugins / name, files)
        ns = Namespace(folder, f"{PACKAGE_PREFIX}loader_{name.replace('-', '_')}_{next(_counter)}")
        namespaces.append(ns)
        source = PluginSource(name, folder, read_manifest(folder, name), ns, services)
        return load_app(source, plugin_manager.hook)

    yield run
    for ns in namespaces:
        ns.release()
    executor.shutdown(wait=False)


def load_error(load: Callable[..., LoadedApp], name: str, files: dict[str, str]) -> PluginError:
    with pytest.raises(PluginError) as info:
        load(name, files)
    assert info.value.plugin == name
    return info.value


STARLETTE_APP = """
    from starlette.applications import Starlette
    from . import views

    app = Starlette()
    app.state.who = views.WHO
"""


def test_a_good_plugin_loads(load: Callable[..., LoadedApp]) -> None:
    loaded = load("good", {"app.py": STARLETTE_APP, "views.py": "WHO = 'good'\n"})
    assert loaded.framework == "starlette"
    assert loaded.app.state.who == "good"  # type: ignore[attr-defined]
    assert loaded.asgi_app is loaded.app


def test_syntax_error_names_file_and_line(load: Callable[..., LoadedApp], tmp_path: Path) -> None:
    error = load_error(load, "syn", {"app.py": "x = 1\n\napp = (\n"})
    assert error.kind == "SyntaxError"
    assert "syntax error at line 3" in str(error)
    assert error.file == str(tmp_path / "plugins" / "syn" / "app.py")


def test_syntax_error_in_an_imported_module_names_that_module(
    load: Callable[..., LoadedApp], tmp_path: Path
) -> None:
    error = load_error(load, "syn2", {"app.py": "from . import views\n", "views.py": "def f(:\n"})
    assert "syntax error at line 1" in str(error)
    assert error.file == str(tmp_path / "plugins" / "syn2" / "views.py")


def test_absolute_import_of_a_sibling_says_use_a_relative_import(
    load: Callable[..., LoadedApp],
) -> None:
    error = load_error(load, "rel", {"app.py": "import views\napp = views.app\n", "views.py": ""})
    assert error.kind == "ImportError"
    assert "'import views'" in str(error)
    assert error.hint is not None
    assert "relative import" in error.hint
    assert "from . import views" in str(error)
    assert error.file is not None and error.file.endswith("app.py:1")


def test_missing_third_party_module_says_add_it_to_requirements(
    load: Callable[..., LoadedApp],
) -> None:
    error = load_error(load, "dep", {"app.py": "import no_such_module_xyz\n"})
    assert "No module named 'no_such_module_xyz'" in str(error)
    assert "requirements.txt" in str(error)


def test_missing_sibling_module_is_named_relatively(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "sib", {"app.py": "from . import nothere\n"})
    assert "cannot import name 'nothere' from the plugin folder" in str(error)
    assert PACKAGE_PREFIX not in str(error)


def test_system_exit_at_import_is_a_plugin_error(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "bye", {"app.py": "import sys\n\nsys.exit(3)\n"})
    assert error.kind == "SystemExit"
    assert "sys.exit(3)" in str(error)
    assert error.file is not None and error.file.endswith("app.py:3")


def test_system_exit_in_package_init_is_a_plugin_error(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "byeinit", {"__init__.py": "raise SystemExit('no')\n", "app.py": ""})
    assert error.kind == "SystemExit"
    assert "__init__.py" in str(error)


def test_exception_at_import_names_type_file_and_line(load: Callable[..., LoadedApp]) -> None:
    error = load_error(
        load, "boom", {"app.py": "from . import db\n", "db.py": "\n\nraise RuntimeError('down')\n"}
    )
    assert error.kind == "RuntimeError"
    assert "RuntimeError while importing 'app': down" in str(error)
    assert error.file is not None and error.file.endswith("db.py:3")


def test_missing_app_attribute(load: Callable[..., LoadedApp]) -> None:
    error = load_error(
        load,
        "noattr",
        {"app.py": "from starlette.applications import Starlette\nweb = Starlette()\n"},
    )
    assert error.kind == "AttributeError"
    assert "attribute 'app' not found in module 'app'" in str(error)
    assert "plugin.yaml" in str(error)


def test_missing_attribute_named_in_the_manifest(load: Callable[..., LoadedApp]) -> None:
    error = load_error(
        load,
        "noattr2",
        {"plugin.yaml": "framework: starlette\napp: web:application\n", "web.py": "app = 1\n"},
    )
    assert "attribute 'application' not found in module 'web'" in str(error)
    assert error.file is not None and error.file.endswith("web.py")


def test_not_an_app(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "notapp", {"app.py": "app = 42\n"})
    assert error.kind == "NotAnApp"
    assert "'int'" in str(error)
    assert "not an ASGI or WSGI application" in str(error)


def test_app_of_another_framework_than_declared(load: Callable[..., LoadedApp]) -> None:
    error = load_error(
        load,
        "mismatch",
        {
            "plugin.yaml": "framework: fastapi\n",
            "app.py": "def app(environ, start_response): ...\n",
        },
    )
    assert error.kind == "NotAnApp"
    assert "not an ASGI application" in str(error)


def test_unknown_framework_lists_the_known_ones(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "quart", {"plugin.yaml": "framework: quart\n", "app.py": ""})
    assert error.kind == "ManifestError"
    assert "unknown framework 'quart'" in str(error)
    assert "fastapi" in str(error) and "flask" in str(error)


def test_a_folder_with_nothing_to_serve(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "empty", {"README.md": "nothing here\n"})
    assert "cannot tell what this plugin is" in str(error)


def test_missing_submodule_is_named_relatively(load: Callable[..., LoadedApp]) -> None:
    error = load_error(load, "sib2", {"app.py": "from .nothere import x\n"})
    assert "module 'nothere' not found in the plugin folder" in str(error)


def test_errors_never_show_the_synthetic_package_name(load: Callable[..., LoadedApp]) -> None:
    error = load_error(
        load, "attr", {"app.py": "from . import views\nviews.missing\n", "views.py": "X = 1\n"}
    )
    assert "module 'views' has no attribute 'missing'" in str(error)
    assert PACKAGE_PREFIX not in str(error)


WHO_APP = """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from . import views

    async def who(request):
        return PlainTextResponse(views.WHO)

    app = Starlette(routes=[Route("/", who)])
"""


def test_two_gateways_side_by_side_each_import_their_own_plugin(tmp_path: Path) -> None:
    import asyncio

    async def serve_both() -> list[object]:
        gateways = []
        for side in ("a", "b"):
            write(
                tmp_path / side / "shop",
                {"app.py": WHO_APP, "views.py": f"WHO = {side!r}\n"},
            )
            config = Config(plugins=PluginsConfig(dir=tmp_path / side, watch=False))
            gateways.append(Gateway(config, cwd=tmp_path))
        try:
            answers = []
            for gw in gateways:
                await gw.registry.load("shop")
                transport = httpx.ASGITransport(app=gw)
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                    answers.append((await client.get("/shop/")).text)
            return answers
        finally:
            for gw in gateways:
                await gw.shutdown()

    assert asyncio.run(serve_both()) == ["a", "b"]
