"""The extension contract (gateway/hookspecs.py): documented, and kept by the built-in kinds."""

from __future__ import annotations

import inspect
from types import ModuleType

import pluggy
import pytest

import gateway
from gateway import hookspecs
from gateway.kinds import BUILTIN_KINDS

SPEC_MARK = f"{hookspecs.PROJECT}_spec"
IMPL_MARK = f"{hookspecs.PROJECT}_impl"


def specs() -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, SPEC_MARK)
    }


def impls(kind: ModuleType) -> dict[str, object]:
    return {name: obj for name, obj in vars(kind).items() if hasattr(obj, IMPL_MARK)}


def kind_id(kind: ModuleType) -> str:
    return kind.__name__.rsplit(".", 1)[-1]


def test_the_contract_has_the_hooks_the_contract_promises() -> None:
    assert {
        "gateway_frameworks",
        "gateway_recognise_folder",
        "gateway_recognise_app",
        "gateway_load_app",
        "gateway_adapt_app",
        "gateway_plugin_loaded",
        "gateway_plugin_failed",
        "gateway_plugin_unloaded",
    } <= set(specs())


@pytest.mark.parametrize("name", sorted(specs()))
def test_every_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(specs()[name])
    assert doc and doc.strip(), f"hookspec {name} has no docstring"
    assert len(doc.split()) >= 5, f"hookspec {name}: {doc!r} says too little"


def test_every_hook_is_named_for_the_project() -> None:
    assert all(name.startswith("gateway_") for name in specs())


def test_the_public_marker_is_the_hookspecs_marker() -> None:
    assert gateway.hookimpl is hookspecs.hookimpl


@pytest.mark.parametrize("kind", BUILTIN_KINDS, ids=kind_id)
def test_builtin_kind_hookimpls_match_a_spec(kind: ModuleType) -> None:
    unknown = set(impls(kind)) - set(specs())
    assert not unknown, f"{kind.__name__} implements hooks with no spec: {unknown}"
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(kind)  # validates each hookimpl's arguments against its spec
    pm.check_pending()


@pytest.mark.parametrize("kind", BUILTIN_KINDS, ids=kind_id)
def test_builtin_kind_implements_the_load_steps(kind: ModuleType) -> None:
    required = {
        "gateway_frameworks",
        "gateway_load_app",
        "gateway_adapt_app",
        "gateway_describe_routes",
    }
    assert required <= set(impls(kind)), f"{kind.__name__} misses {required - set(impls(kind))}"


def test_every_framework_is_claimed_by_exactly_one_kind() -> None:
    claimed = [name for kind in BUILTIN_KINDS for name in kind.gateway_frameworks()]
    assert len(claimed) == len(set(claimed)), claimed
    for framework in ("fastapi", "starlette", "asgi", "flask", "wsgi", "django", "functions"):
        assert framework in claimed


def test_validation_catches_a_hookimpl_that_does_not_match() -> None:
    """The checks above can fail: a kind with a wrong argument name is refused."""

    class Mistaken:
        @hookspecs.hookimpl
        def gateway_load_app(self, source: object, framwork: str) -> None:
            return None

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    with pytest.raises(pluggy.PluginValidationError, match="framwork"):
        pm.register(Mistaken())
