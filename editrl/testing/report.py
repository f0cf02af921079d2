"""How a contract check reports: every failed expectation is collected, then raised together as one error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ContractError(AssertionError):
    """A component breaks editrl's contract for its kind. ``failures`` holds one ``check: what is wrong`` line each.

    An :class:`AssertionError`, so pytest shows it as a test failure with the whole list.
    """

    def __init__(self, subject: str, failures: list[str]) -> None:
        self.subject = subject
        self.failures = failures
        lines = "\n".join(f"  - {f}" for f in failures)
        super().__init__(f"{subject} breaks the editrl contract:\n{lines}")


class _Abort(Exception):
    """Raised inside a contract when a failure leaves nothing further to check."""


class Contract:
    """Collects the outcome of every check on one component class; use as a context manager.

    ``expect`` records a failure and goes on; ``attempt`` runs a call whose failure stops the remaining checks
    (nothing further can be checked without its result). Leaving the block raises :class:`ContractError` when
    anything failed.
    """

    def __init__(self, cls: type) -> None:
        kind = getattr(cls, "kind", "?")
        name = getattr(cls, "name", "?")
        self.subject = f"{kind} {name!r} ({cls.__module__}.{cls.__qualname__})"
        self.failures: list[str] = []
        self.passed: list[str] = []

    def expect(self, check: str, ok: bool, message: str) -> bool:
        """Record ``check`` as passed when ``ok``, else as failed with ``message``. Returns ``ok``."""
        if ok:
            if check not in self.passed:
                self.passed.append(check)
        else:
            self.failures.append(f"{check}: {message}")
        return ok

    def fail(self, check: str, message: str) -> None:
        """Record a failure and stop checking."""
        self.failures.append(f"{check}: {message}")
        raise _Abort

    def attempt(self, check: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``; an exception is recorded as a failure of ``check`` and stops the contract."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # any failure of third-party code is a finding, not a crash of the kit
            self.fail(check, f"raised {type(exc).__name__}: {exc}")
            raise  # pragma: no cover (fail always raises)

    def __enter__(self) -> Contract:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not issubclass(exc_type, _Abort):
            return False
        if self.failures:
            raise ContractError(self.subject, self.failures) from None
        return False
