"""Registry of component classes keyed by (kind, name)."""

from __future__ import annotations

from collections import defaultdict

from editrl.component import Component
from editrl.errors import RegistryError

KINDS = ("backbone", "dataset", "exploration", "solver", "policy", "reward", "regularizer", "optimizer")


class Registry:
    """Holds every component class that plugins registered; refuses duplicate names within a kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, type[Component]]] = defaultdict(dict)

    def add(self, cls: type[Component]) -> type[Component]:
        """Register ``cls`` under ``(cls.kind, cls.name)``. Returns ``cls`` so it can be used as a decorator."""
        kind = getattr(cls, "kind", None)
        name = getattr(cls, "name", None)
        if kind not in KINDS:
            raise RegistryError(f"{cls.__module__}.{cls.__qualname__}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{cls.__module__}.{cls.__qualname__}: set a class attribute `name` (the recipe `type`)")
        existing = self._by_kind[kind].get(name)
        if existing is not None and existing is not cls:
            raise RegistryError(
                f"duplicate {kind} name {name!r}: {existing.__module__}.{existing.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        self._by_kind[kind][name] = cls
        return cls

    def get(self, kind: str, name: str) -> type[Component]:
        try:
            return self._by_kind[kind][name]
        except KeyError:
            valid = ", ".join(self.names(kind)) or "(none registered)"
            raise RegistryError(f"unknown {kind} {name!r}; expected one of: {valid}") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind.get(kind, {}))

    def components(self, kind: str) -> list[type[Component]]:
        return [self._by_kind[kind][n] for n in self.names(kind)]

    def __iter__(self):
        for kind in KINDS:
            yield from self.components(kind)
