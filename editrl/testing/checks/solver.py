"""The solver contract: exact on a constant velocity field, consistent on a linear one, deterministic."""

from __future__ import annotations

from typing import Any

import torch

from editrl.interfaces import Solver
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.world import ToyWorld, default_world

#: The step the checks take: from σ = 0.75 to σ' = 0.5 (h = σ' − σ = −0.25), and a short one of h = −1e-3.
SIGMA, SIGMA_NEXT, SHORT = 0.75, 0.5, 1e-3


def check_solver(
    cls: type[Solver], config: dict[str, Any] | None = None, *, world: ToyWorld | None = None
) -> list[str]:
    """Check a solver; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.Solver`; config as for every kind; ``steps`` ≥ 1;
    2. the velocity function is called with ``x [M, ...]`` and ``sigma [M]`` float32;
    3. on a constant field ``v = c`` every consistent solver is exact: ``x' = x + (σ' − σ)·c``;
    4. on ``v = x`` (solution ``x·exp(σ' − σ)``) a short step of ``h = 1e-3`` errs by ``O(h²)`` relative: a first-order
       solver by ``h²/2 = 5e-7``; more than ``1e-5`` means the step is not consistent with the ODE;
    5. a step of the toy world's backbone is finite, has the shape of ``x``, is deterministic and moves no global RNG.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, Solver)
        settings = check_config(contract, cls, config)
        check_requires(contract, cls)  # this kind is given no inputs: nothing may be required
        solver = contract.attempt("construct", cls, settings)
        contract.expect("steps", isinstance(solver.steps, int) and solver.steps >= 1, f"steps is {solver.steps!r}")
        g = torch.Generator().manual_seed(0)
        x = torch.randn(3, 2, 4, 4, generator=g)  # [M, C, h, w]
        c = torch.randn(3, 2, 4, 4, generator=g)  # [M, C, h, w]
        # step 2
        bad_calls: list[str] = []

        def constant(x_in: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            rows = isinstance(sigma, torch.Tensor) and sigma.shape == (x_in.shape[0],)
            if not (rows and sigma.dtype == torch.float32):
                bad_calls.append(repr(sigma)[:80])
            return c

        out = contract.attempt("step", solver.step, constant, x, SIGMA, SIGMA_NEXT)
        contract.expect(
            "step.velocity_call", not bad_calls, f"velocity called with sigma {bad_calls[:1]}, expected [M] float32"
        )
        # step 3
        if finite_tensor(contract, "step.shape", out, tuple(x.shape), "step output"):
            err = float((out - (x + (SIGMA_NEXT - SIGMA) * c)).abs().max())
            contract.expect(
                "step.constant_field", err < 1e-5, f"x' ≠ x + (σ' − σ)·c on a constant field (error {err:.3g})"
            )
        # step 4
        short = contract.attempt("step", solver.step, lambda x_in, s: x_in, x, SIGMA, SIGMA - SHORT)
        exact = x * torch.exp(torch.tensor(-SHORT))  # [M, C, h, w]
        rel = float((short - exact).abs().max() / exact.abs().max())
        contract.expect("step.consistent", rel < 1e-5, f"a step of h = −1e-3 on v = x errs by {rel:.3g} relative")
        # step 5
        batch = world.batch()
        cond = world.backbone.encode_condition(batch)
        x_T = world.noise(len(batch)).x_T[:, 0]  # [N, C, h, w]

        def toy_step() -> torch.Tensor:
            with torch.no_grad():
                return solver.step(lambda x_in, s: world.backbone.velocity(x_in, s, cond), x_T, 1.0, 0.5)

        toy = check_deterministic(contract, "step.deterministic", toy_step, "step")
        finite_tensor(contract, "step.toy", toy, tuple(x_T.shape), "step on the toy editor")
    return contract.passed
