"""The registry primitive: register by id, ordered iteration, refusal of duplicates, overrides."""

import re

import pytest

from machi.core.registry import Registry, all_registries


def make(name: str) -> Registry[str]:
    registry: Registry[str] = Registry(f"test.{name}")
    return registry


def test_register_get_and_iterate_in_order():
    registry = make("order")
    registry.register("b", "second", order=20)
    registry.register("a", "first", order=10)
    registry.register("c", "third", order=20)
    assert registry.ids() == ["a", "b", "c"]
    assert list(registry) == ["first", "second", "third"]
    assert registry.get("b") == "second"
    assert "a" in registry
    assert "z" not in registry
    assert len(registry) == 3


def test_duplicate_id_is_refused_unless_replace():
    registry = make("dup")
    registry.register("x", "one")
    with pytest.raises(ValueError, match=re.escape("test.dup: 'x' is already registered")):
        registry.register("x", "two")
    assert registry.get("x") == "one"
    registry.register("x", "two", replace=True)
    assert registry.get("x") == "two"


def test_same_item_twice_is_idempotent():
    registry = make("same")
    item = "one"
    registry.register("x", item)
    registry.register("x", item)
    assert registry.ids() == ["x"]


def test_missing_id_names_the_registry():
    registry = make("missing")
    with pytest.raises(KeyError, match=re.escape("test.missing: nothing registered as 'nope'")):
        registry.get("nope")


def test_override_replaces_and_restores():
    registry = make("override")
    registry.register("real", "r")
    with registry.override({"fake": "f"}):
        assert registry.ids() == ["fake"]
    assert registry.ids() == ["real"]
    with registry.override(extra="e"):
        assert registry.ids() == ["real", "extra"]
    assert registry.ids() == ["real"]


def test_decorator_and_unregister():
    registry: Registry[object] = Registry("test.decorator")

    @registry.decorator("fn")
    def handler() -> str:
        return "ok"

    assert registry.get("fn") is handler
    registry.unregister("fn")
    assert registry.ids() == []


def test_names_are_unique_and_listed():
    make("unique")
    with pytest.raises(ValueError, match="already exists"):
        make("unique")
    assert "test.unique" in all_registries()
