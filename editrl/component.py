"""The base every pluggable component shares: a kind, a registry name and a typed config."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class ComponentConfig(BaseModel):
    """Base of every component's config: unknown keys are errors, field docstrings become help."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class Component:
    """A registered building block. Subclasses set ``name`` and usually a nested ``Config``.

    ``kind`` is fixed by the interface (``"reward"``, ``"backbone"``, ...), ``name`` is what a recipe writes as
    ``type:``. Components are built with ``cls(config)``; anything that needs a device happens later, in the methods
    the engine calls.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig) -> None:
        self.config = config

    @classmethod
    def summary(cls) -> str:
        """First paragraph of the class docstring, for listings."""
        doc = (cls.__doc__ or "").strip()
        return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
