"""Errors that reach the user as messages, never as tracebacks."""

from __future__ import annotations


class EditrlError(Exception):
    """Base of the errors the CLI reports as a message and exit code 2."""


class RegistryError(EditrlError):
    """A component was registered twice or looked up under a name nobody registered."""


class RecipeError(EditrlError):
    """A recipe is malformed. ``problems`` holds one ``location: message`` line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class ResourceError(EditrlError):
    """Something the run needs (weights, data, a device) cannot be had; the message says what and what to do."""
