"""The one registry primitive behind every extension point.

Lower apps declare a ``Registry`` for something higher apps contribute (outbox handlers,
notification channels, payment providers, revocation checkers, procedure hooks, page sections,
case actions…); higher apps register into it from their ``AppConfig.ready()``. Lower code then
iterates the registry instead of importing the higher app, so the layers stay one-way.

Every registry in the project is listed in ``docs/architecture.md``; a test compares that table
with ``all_registries()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

_ALL: dict[str, Registry[object]] = {}


class Registry(Generic[T]):
    """Items keyed by id, iterated in (``order``, registration) order.

    ``register`` refuses a second item under the same id unless ``replace=True`` (a deliberate
    override, e.g. a municipality's own provider); ``override`` swaps the contents for a test and
    restores them afterwards.
    """

    def __init__(self, name: str, *, description: str = "") -> None:
        if name in _ALL:
            raise ValueError(f"a registry named {name!r} already exists")
        self.name = name
        self.description = description
        self._items: dict[str, tuple[int, int, T]] = {}
        self._counter = 0
        _ALL[name] = self  # type: ignore[assignment]

    def register(self, item_id: str, item: T, *, order: int = 0, replace: bool = False) -> T:
        """Add ``item`` under ``item_id``; returns it (usable as a decorator via ``decorator``)."""
        if item_id in self._items and not replace:
            existing = self._items[item_id][2]
            if existing is item:
                return item
            raise ValueError(f"{self.name}: {item_id!r} is already registered")
        self._counter += 1
        self._items[item_id] = (order, self._counter, item)
        return item

    def decorator(self, item_id: str, *, order: int = 0) -> Callable[[T], T]:
        """``@registry.decorator("id")`` registers the decorated function or class."""

        def wrap(item: T) -> T:
            return self.register(item_id, item, order=order)

        return wrap

    def unregister(self, item_id: str) -> None:
        """Remove ``item_id`` if present."""
        self._items.pop(item_id, None)

    def get(self, item_id: str) -> T:
        """The item registered under ``item_id``; ``KeyError`` names the registry when missing."""
        try:
            return self._items[item_id][2]
        except KeyError:
            raise KeyError(f"{self.name}: nothing registered as {item_id!r}") from None

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def ids(self) -> list[str]:
        """Registered ids in iteration order."""
        return [item_id for item_id, _ in self.items()]

    def items(self) -> list[tuple[str, T]]:
        """(id, item) pairs ordered by ``order``, then registration."""
        ordered = sorted(self._items.items(), key=lambda pair: (pair[1][0], pair[1][1]))
        return [(item_id, entry[2]) for item_id, entry in ordered]

    def __iter__(self) -> Iterator[T]:
        return iter([item for _, item in self.items()])

    def __len__(self) -> int:
        return len(self._items)

    @contextmanager
    def override(self, items: dict[str, T] | None = None, **extra: T) -> Iterator[Registry[T]]:
        """For tests: replace the contents with ``items`` (default: keep them, add ``extra``)."""
        saved = dict(self._items)
        saved_counter = self._counter
        if items is not None:
            self._items = {}
            for item_id, item in items.items():
                self.register(item_id, item)
        for item_id, item in extra.items():
            self.register(item_id, item, replace=True)
        try:
            yield self
        finally:
            self._items = saved
            self._counter = saved_counter

    def __repr__(self) -> str:
        return f"<Registry {self.name}: {', '.join(self.ids()) or 'empty'}>"


def all_registries() -> dict[str, Registry[object]]:
    """Every registry declared so far, by name (for the architecture table's test)."""
    return dict(_ALL)
