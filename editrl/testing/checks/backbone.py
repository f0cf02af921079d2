"""The backbone contract: latent shapes, a decreasing σ schedule, finite deterministic velocities, LoRA targets."""

from __future__ import annotations

from typing import Any

import torch
from peft import LoraConfig

from editrl.engine.lora import LoraController
from editrl.interfaces import Backbone, Condition, EditBatch
from editrl.requirements import CAPABILITY_INPUTS
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.rng import preserved_global_rng
from editrl.testing.world import ToyWorld, default_world

#: Solver steps K of the σ schedule checked, and candidates per example in the velocity check.
STEPS, GROUP = 3, 2


def check_backbone(
    cls: type[Backbone],
    config: dict[str, Any] | None = None,
    *,
    world: ToyWorld | None = None,
    batch: EditBatch | None = None,
) -> list[str]:
    """Check a backbone; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.Backbone`; config as for every kind; ``capabilities`` are
       known (:data:`editrl.requirements.CAPABILITY_INPUTS`); ``load`` on the CPU;
    2. on ``batch`` (default: the toy world's): ``latent_shape`` is ``(C, h, w)``, ``encode_condition`` gives a
       :class:`Condition` that repeats per candidate, ``sigmas(K)`` is ``[K + 1]`` float32 decreasing from at most 1
       to 0;
    3. ``velocity`` of seeded noise ``[N·G, C, h, w]`` is finite with the same shape and deterministic (global RNGs
       perturbed, none moved); ``decode`` gives ``[M, 3, H, W]`` in [0, 1]; ``encode_images`` of the sources has the
       latent shape; ``latent_mask`` is ``[N, 1, h, w]``;
    4. with ``attention``: ``capture_attention(1)`` records finite ``[M, n_img]`` maps and ``token_mask`` is
       ``[N, n_img]``;
    5. LoRA on ``default_lora_targets`` (a second, freshly loaded instance) matches modules, and the velocity's
       gradient reaches the LoRA weights.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, Backbone)
        settings = check_config(contract, cls, config)
        check_requires(contract, cls)  # this kind is given no inputs: nothing may be required
        unknown = sorted(set(cls.capabilities) - CAPABILITY_INPUTS)
        contract.expect("capabilities", not unknown, f"unknown {unknown}; expected some of {sorted(CAPABILITY_INPUTS)}")
        bb = _loaded(contract, cls, settings)
        # step 2
        batch = batch if batch is not None else world.batch()
        N, M = len(batch), len(batch) * GROUP
        shape = contract.attempt("latent_shape", bb.latent_shape, batch)
        if not (isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(s, int) and s > 0 for s in shape)):
            contract.fail("latent_shape", f"must be a tuple (C, h, w) of positive ints, got {shape!r}")
        cond = check_deterministic(
            contract, "encode_condition.deterministic", lambda: bb.encode_condition(batch), "encode_condition"
        )
        if not isinstance(cond, Condition):
            contract.fail("encode_condition", f"must return an editrl.interfaces.Condition, got {type(cond).__name__}")
        rows = contract.attempt("encode_condition.repeat", cond.repeat_interleave, GROUP)
        sigmas = contract.attempt("sigmas", bb.sigmas, STEPS, shape)
        if finite_tensor(contract, "sigmas", sigmas, (STEPS + 1,), "sigmas"):
            contract.expect(
                "sigmas", sigmas.dtype == torch.float32 and 0 < float(sigmas[0]) <= 1 and float(sigmas[-1]) == 0
                and bool((sigmas[1:] < sigmas[:-1]).all()),
                f"must be float32, decreasing from at most 1 to 0; got {sigmas.tolist()} ({sigmas.dtype})",
            )
        # step 3
        x = torch.randn((M, *shape), generator=torch.Generator().manual_seed(0))  # [M, C, h, w]
        sigma = torch.full((M,), 0.5)  # [M]
        with torch.no_grad():
            v = check_deterministic(contract, "velocity.deterministic", lambda: bb.velocity(x, sigma, rows), "velocity")
            finite_tensor(contract, "velocity", v, (M, *shape), "velocity")
            images = contract.attempt("decode", bb.decode, x)
        if finite_tensor(contract, "decode", images, None, "decoded images"):
            contract.expect(
                "decode", images.ndim == 4 and images.shape[:2] == (M, 3)
                and float(images.min()) >= 0 and float(images.max()) <= 1,
                f"must be [M, 3, H, W] = [{M}, 3, H, W] in [0, 1], got {list(images.shape)} in "
                f"[{float(images.min()):.3g}, {float(images.max()):.3g}]",
            )
        latents = contract.attempt("encode_images", bb.encode_images, batch.source)
        finite_tensor(contract, "encode_images", latents, (N, *shape), "encoded sources")
        if batch.mask is not None:
            lmask = contract.attempt("latent_mask", bb.latent_mask, batch.mask, shape)
            finite_tensor(contract, "latent_mask", lmask, (N, 1, *shape[1:]), "latent mask")
        # step 4
        if "attention" in cls.capabilities:
            _check_attention(contract, bb, x, sigma, rows, batch, shape)
        # step 5
        _check_lora(contract, cls, settings, x, sigma, batch)
    return contract.passed


def _loaded(contract: Contract, cls: type[Backbone], settings) -> Backbone:
    with preserved_global_rng():
        bb = contract.attempt("construct", cls, settings)
        contract.attempt("load", bb.load, torch.device("cpu"))
    return bb


def _check_attention(contract, bb, x, sigma, rows, batch, shape) -> None:
    M = x.shape[0]
    with torch.no_grad():
        with contract.attempt("capture_attention", bb.capture_attention, 1) as maps:
            contract.attempt("capture_attention", bb.velocity, x, sigma, rows)
    if not contract.expect("capture_attention", len(maps) >= 1, "no map was recorded during a forward"):
        return
    if finite_tensor(contract, "capture_attention", maps[0], None, "attention map"):
        n_img = maps[0].shape[-1]
        contract.expect(
            "capture_attention", tuple(maps[0].shape) == (M, n_img), f"map is {list(maps[0].shape)}, not [M, n_img]"
        )
        if batch.mask is not None:
            tokens = contract.attempt("token_mask", bb.token_mask, batch.mask, shape)
            finite_tensor(contract, "token_mask", tokens, (len(batch), n_img), "token mask")


def _check_lora(contract, cls, settings, x, sigma, batch) -> None:
    targets = list(cls.default_lora_targets)
    if not contract.expect("lora.targets", bool(targets), "default_lora_targets is empty; recipes must then name them"):
        return
    bb = _loaded(contract, cls, settings)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        config = LoraConfig(r=2, lora_alpha=2, target_modules=targets)
        lora = contract.attempt("lora.targets", LoraController, bb.denoiser, config)
    params = lora.trainable_parameters()
    g = torch.Generator().manual_seed(1)
    for p in params:  # peft starts B at zero: move it so that A's gradient is not zero either
        if not bool(p.detach().abs().sum() > 0):
            p.data.normal_(0, 0.01, generator=g)
    rows = bb.encode_condition(batch).repeat_interleave(x.shape[0] // len(batch))
    v = contract.attempt("lora.gradient", bb.velocity, x, sigma, rows)
    contract.attempt("lora.gradient", v.float().square().mean().backward)
    grads = [p.grad for p in params if p.grad is not None]
    contract.expect(
        "lora.gradient", bool(grads) and all(bool(torch.isfinite(g).all()) for g in grads)
        and any(bool(g.abs().sum() > 0) for g in grads),
        "the velocity's gradient does not reach the LoRA weights (none, zero or non-finite)",
    )
