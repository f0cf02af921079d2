"""Checks every kind shares: the class's identity, its config, its ``requires``, finiteness and determinism."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from pydantic import ValidationError

from editrl.component import Component, ComponentConfig
from editrl.requirements import known_requires
from editrl.testing.report import Contract
from editrl.testing.rng import first_difference, perturb_global_rng, preserved_global_rng, watch_global_rng

#: A key no component config has; a config that accepts it does not forbid extra keys.
UNKNOWN_KEY = "editrl_contract_unknown_key"


def check_identity(contract: Contract, cls: type, interface: type[Component]) -> None:
    """The class implements ``interface``, names itself (the recipe's ``type``) and has a summary for listings."""
    if not (isinstance(cls, type) and issubclass(cls, interface)):
        contract.fail("interface", f"{cls!r} is not a subclass of {interface.__module__}.{interface.__qualname__}")
    name = getattr(cls, "name", None)
    contract.expect("name", isinstance(name, str) and bool(name), "set a class attribute `name` (the recipe's type)")
    contract.expect(
        "docstring", bool(cls.summary()), "the class has no docstring (its first paragraph is the `editrl ls` summary)"
    )
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        contract.fail("interface", f"abstract methods not implemented: {', '.join(abstract)}")


def check_config(contract: Contract, cls: type[Component], config: dict[str, Any] | None) -> ComponentConfig:
    """The config class forbids extra keys, documents every field and bounds every numeric one; ``config``
    validates. Returns the instance."""
    Config = cls.Config
    if not (isinstance(Config, type) and issubclass(Config, ComponentConfig)):
        contract.fail("config", f"`Config` must subclass editrl.ComponentConfig, got {Config!r}")
    values = dict(config or {})
    settings = contract.attempt("config", lambda: Config(**values))
    try:
        Config(**values, **{UNKNOWN_KEY: 1})
        rejected = False
    except ValidationError:
        rejected = True
    contract.expect(
        "config.extra_forbidden", rejected and Config.model_config.get("extra") == "forbid",
        f"an unknown key ({UNKNOWN_KEY}) is accepted; recipes' typos must be errors (model_config extra='forbid', "
        "inherited from editrl.ComponentConfig)",
    )
    undocumented = [n for n, f in Config.model_fields.items() if not (f.description or "").strip()]
    contract.expect(
        "config.documented", not undocumented,
        f"fields without help: {', '.join(undocumented)} (write an attribute docstring under each field)",
    )
    unbounded = [n for n, f in Config.model_fields.items() if _numeric(f.annotation) and not _bounded(f.metadata)]
    contract.expect(
        "config.bounded", not unbounded,
        f"numeric fields without bounds: {', '.join(unbounded)} (give each a range, e.g. Field(1.0, ge=0.0, le=10.0))",
    )
    return settings


def _numeric(annotation: Any) -> bool:
    """A plain int or float field. Optional ones (``float | None``, e.g. a threshold on a reward's own scale that
    null switches off) may be unbounded; bools are not numbers here."""
    return annotation in (int, float)


def _bounded(metadata: list) -> bool:
    return any(getattr(m, attr, None) is not None for m in metadata for attr in ("ge", "gt", "le", "lt"))


def check_requires(contract: Contract, cls: type[Component]) -> frozenset[str]:
    """``requires`` is a frozenset of names from the vocabulary of :func:`editrl.requirements.known_requires`."""
    requires = getattr(cls, "requires", frozenset())
    if not isinstance(requires, frozenset) or not all(isinstance(r, str) for r in requires):
        contract.fail("requires", f"must be a frozenset of names, got {requires!r}")
    known = known_requires(cls.kind)
    unknown = sorted(requires - known)
    where = f"one of {sorted(known)}" if known else f"nothing: the engine provides {cls.kind}s no inputs"
    contract.expect("requires.known", not unknown, f"unknown names {unknown}; expected {where}")
    return requires


def finite_tensor(contract: Contract, check: str, value: Any, shape: tuple[int, ...] | None, what: str) -> bool:
    """``value`` is a floating tensor of ``shape`` (None: any) with only finite elements."""
    if not isinstance(value, torch.Tensor):
        return contract.expect(check, False, f"{what} must be a tensor, got {type(value).__name__}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        return contract.expect(check, False, f"{what} has shape {list(value.shape)}, expected {list(shape)}")
    if not value.is_floating_point():
        return contract.expect(check, False, f"{what} has dtype {value.dtype}, expected a floating dtype")
    bad = int((~torch.isfinite(value.detach())).sum())
    return contract.expect(check, bad == 0, f"{what} has {bad} non-finite elements (NaN or inf)")


def finite_stats(contract: Contract, check: str, stats: Any, what: str) -> None:
    """``stats`` is a dict of names to finite floats (they become metric columns)."""
    if not isinstance(stats, dict):
        contract.expect(check, False, f"{what} must be a dict of floats, got {type(stats).__name__}")
        return
    bad = {k: v for k, v in stats.items() if not isinstance(k, str) or not _finite_number(v)}
    contract.expect(check, not bad, f"{what} must map names to finite floats; offending: {bad}")


def _finite_number(v: Any) -> bool:
    if isinstance(v, torch.Tensor):
        return v.numel() == 1 and bool(torch.isfinite(v).all())
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_deterministic(contract: Contract, check: str, run: Callable[[], Any], what: str) -> Any:
    """``run()`` twice with the global RNGs reseeded differently before each: the outputs must be equal, and no
    call may move a global RNG. ``run`` seeds its own generator. Returns the first output."""
    moved: list[str] = []
    with preserved_global_rng():
        perturb_global_rng(1)
        with watch_global_rng(moved):
            first = contract.attempt(check, run)
        perturb_global_rng(2)
        with watch_global_rng(moved):
            second = contract.attempt(check, run)
    diff = first_difference(first, second, what)
    contract.expect(
        check, diff is None,
        f"two calls with identically seeded generators disagree ({diff}); draw randomness only from the "
        "generator the engine passes",
    )
    used = sorted(set(moved))
    contract.expect(
        "randomness.global_rng", not used,
        f"{what}: the global RNG of {', '.join(used)} moved; draw randomness only from the generator the engine "
        "passes (a resumed run cannot replay the global RNG)",
    )
    return first
