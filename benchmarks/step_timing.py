"""What ``flux_step.py`` and ``qwen_step.py`` share: timing one editrl training step of a random full-sized diffusers
transformer against the same transformer passes alone.

A script builds its random transformer and VAE (:func:`random_modules`, :func:`damp_`), wraps them in its backbone
with ``from_components``, and hands :func:`run` a random condition and the transformer's own keyword arguments; this
module does the rest:

1. LoRA (rank ``--rank``) on the backbone's default targets, the Euler solver, the masked policy and GRPO-clip;
2. the **editrl step**: the rollout (``integrate`` over the group, attention capture of the last L layers when asked)
   and the training (``loss_chunks`` backward over B anchors, one AdamW step), each timed;
3. the same transformer passes **alone** (K no-grad calls of batch G·N, K forward+backward calls of batch B·N, each
   ``passes`` times), timed;
4. the decode of the candidates (not in the step), one warm-up and ``--repeats`` measured repeats, the medians printed
   and optionally written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from editrl.diffusers import DTYPES


class Timer:
    """Wall time of a block: CUDA events on a GPU (after a synchronize), perf_counter on a CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, fn) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1000.0
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def parser(doc: str, *, text_tokens: int, text_help: str) -> argparse.ArgumentParser:
    """The arguments both scripts take (a script adds its own before ``parse_args``)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--resolution", type=int, default=512, help="square image side (default 512)")
    p.add_argument("--group-size", "-G", type=int, default=12)
    p.add_argument("--steps", "-K", type=int, default=8, help="Euler steps of a rollout")
    p.add_argument("--anchors", "-B", type=int, default=4)
    p.add_argument("--groups", "-N", type=int, default=1, help="edit examples per step")
    p.add_argument("--rank", type=int, default=32, help="LoRA rank on the attention projections")
    p.add_argument("--text-tokens", type=int, default=text_tokens, help=text_help)
    p.add_argument("--capture-layers", type=int, default=0, help="capture the last L layers in the rollout")
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--no-checkpointing", action="store_true", help="gradient checkpointing off")
    p.add_argument("--repeats", type=int, default=3, help="measured repeats (after one warm-up); medians")
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="the tiny test transformer instead (smoke test)")
    p.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    return p


def require_device(args, script: str, sized: str, min_gb: int) -> torch.device:
    """The run's device; exit with a message when the full-sized model cannot run there."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            f"{script}: no CUDA device. The {sized} benchmark needs a CUDA GPU with at least {min_gb} GB of memory "
            "(80 GB recommended); `--tiny --device cpu` runs the script's code path on a CPU with the tiny model."
        )
    if not args.tiny and device.type != "cuda":
        sys.exit(f"{script}: the {sized} model only runs on a CUDA GPU; use --tiny for a CPU smoke test.")
    return device


def random_modules(dtype: str, device: torch.device, make: Callable[[], tuple]) -> tuple:
    """``make()`` under seed 0 with parameters created in ``dtype`` directly on ``device`` (no full fp32 copy)."""
    previous = torch.get_default_dtype()
    torch.manual_seed(0)
    torch.set_default_dtype(DTYPES[dtype])
    try:
        with torch.device(device):
            return make()
    finally:
        torch.set_default_dtype(previous)


def random_tensors(dtype: torch.dtype, device: torch.device) -> Callable[..., torch.Tensor]:
    """``rand(*shape)``: standard normal tensors from a CPU generator seeded 1, in ``dtype`` on ``device``."""
    g = torch.Generator(device="cpu").manual_seed(1)
    return lambda *shape: torch.randn(*shape, generator=g).to(device=device, dtype=dtype)


@torch.no_grad()
def damp_(transformer: torch.nn.Module, keep: tuple[str, ...]) -> None:
    """Halve every matrix but the input embedders ``keep``: keeps the random network's activations in range over its
    many blocks (the cost is unchanged)."""
    for name, p in transformer.named_parameters():
        if p.dim() == 2 and not name.startswith(keep):
            p.mul_(0.5)


def run(
    args, backbone, n_params: int, make_condition: Callable, alone_inputs: Callable[[object, int], dict], *,
    passes: int = 1, settings: str = "", tokens: Callable[[int, int], str], vae: str, unit: str = "forwards",
) -> None:
    """Steps 1–4 of the module docstring, then the report.

    Args:
        make_condition: ``(N, h, w) → condition`` as ``encode_condition`` makes it, with random tensors.
        alone_inputs: ``(condition repeated to rows, rows) → transformer kwargs`` of the bare passes besides
            ``hidden_states`` (random ``[rows, target + reference tokens, 4C]``), ``timestep`` and ``return_dict``.
        passes: transformer passes per velocity (2 with true CFG), in the bare passes too.
        settings: appended to the header line; tokens: ``(h, w) → the token counts`` of the shape line.
    """
    from peft import LoraConfig

    from editrl.engine.lora import LoraController
    from editrl.engine.rollout import integrate
    from editrl.interfaces import InitialNoise, Rollout, TrainContext
    from editrl.interfaces.solver import SolverConfig
    from editrl_neighbor_grpo.grpo_clip import GrpoClip, GrpoClipConfig
    from editrl_neighbor_grpo.policy import MaskedPolicy, MaskedPolicyConfig
    from editrl_solvers import Euler

    # step 1
    device = backbone.device
    vsf = backbone.vae_scale_factor
    C, h, w = backbone.latent_channels, args.resolution // vsf, args.resolution // vsf
    N, G, K, B = args.groups, args.group_size, args.steps, args.anchors
    lora = LoraController(
        backbone.denoiser, LoraConfig(r=args.rank, lora_alpha=args.rank, target_modules=list(backbone.default_lora_targets))
    )
    params = lora.trainable_parameters()
    adamw = torch.optim.AdamW(params, lr=1e-4)
    solver = Euler(SolverConfig(steps=K))
    policy = MaskedPolicy(MaskedPolicyConfig())
    optimizer = GrpoClip(GrpoClipConfig(anchors=B))
    cond = make_condition(N, h, w)
    sigmas = backbone.sigmas(K, (C, h, w))
    gen = torch.Generator().manual_seed(0)
    latent_mask = torch.zeros(N, 1, h, w, device=device)  # [N, 1, h, w]
    latent_mask[..., h // 4 : h // 2, w // 4 : 3 * w // 4] = 1
    ctx = TrainContext(backbone=backbone, solver=solver, policy=policy, generator=gen, lora=lora, base_velocity=None)
    optimizer.setup(ctx)
    timer = Timer(device)
    result: dict[str, list[float]] = {k: [] for k in ("rollout", "train", "step", "alone_rollout", "alone_train", "decode")}

    # step 2
    def editrl_step() -> tuple[float, float]:
        x_T = torch.randn(N, G, C, h, w, generator=gen).to(device)  # [N, G, C, h, w]
        box = {}

        def rollout():
            with torch.no_grad():
                if args.capture_layers:
                    with backbone.capture_attention(args.capture_layers):
                        box["out"] = integrate(backbone, solver, x_T.flatten(0, 1), cond.repeat_interleave(G), sigmas,
                                               keep_states=True)
                else:
                    box["out"] = integrate(backbone, solver, x_T.flatten(0, 1), cond.repeat_interleave(G), sigmas,
                                           keep_states=True)

        def train():
            final, states = box["out"]  # [N·G, C, h, w], [K+1, N·G, C, h, w]
            rollout_ = Rollout(
                cond=cond, sigmas=sigmas, noise=InitialNoise(x_T=x_T, reference=0), final=final.view(N, G, C, h, w),
                states=states.view(K + 1, N, G, C, h, w), latent_mask=latent_mask,
            )
            for chunk in optimizer.loss_chunks(ctx, rollout_, torch.randn(N, G, generator=gen)):
                chunk.loss.backward()
            adamw.step()
            adamw.zero_grad(set_to_none=True)

        return timer(rollout), timer(train)

    # step 3
    transformer = backbone.transformer
    dtype = transformer.dtype

    def inputs(rows: int) -> dict:
        rep = cond.repeat_interleave(rows // N)
        tokens = (h // 2) * (w // 2) + rep.ref_latents.shape[1]  # [target | reference]
        return dict(
            hidden_states=torch.randn(rows, tokens, 4 * C, device=device, dtype=dtype),  # [rows, N + R, 4C]
            timestep=torch.full((rows,), 0.5, device=device, dtype=dtype),  # [rows]
            return_dict=False, **alone_inputs(rep, rows),
        )

    rollout_inputs, train_inputs = inputs(N * G), inputs(N * B)

    def alone_rollout():
        with torch.no_grad():
            for _ in range(K * passes):
                transformer(**rollout_inputs)

    def alone_train():
        for _ in range(K):
            for _ in range(passes):
                transformer(**train_inputs)[0].float().square().mean().backward()
        for p in params:
            p.grad = None

    # step 4
    for repeat in range(args.repeats + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t_roll, t_train = editrl_step()
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
        t_alone_roll, t_alone_train = timer(alone_rollout), timer(alone_train)
        t_decode = timer(lambda: backbone.decode(torch.randn(N * G, C, h, w, device=device)))
        if repeat == 0:
            continue
        for key, value in (("rollout", t_roll), ("train", t_train), ("step", t_roll + t_train),
                           ("alone_rollout", t_alone_roll), ("alone_train", t_alone_train), ("decode", t_decode)):
            result[key].append(value)
        result.setdefault("peak_step_gib", []).append(peak)
    _report(args, result, n_params, params, device, settings, tokens(h, w), vae, unit)


def _report(args, result, n_params, params, device, settings, tokens, vae, unit) -> None:
    N, G, K, B = args.groups, args.group_size, args.steps, args.anchors
    med = {k: statistics.median(v) for k, v in result.items()}
    alone = med["alone_rollout"] + med["alone_train"]
    ratio = med["step"] / alone
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {name}; transformer: {n_params / 1e9:.2f} B parameters ({args.dtype}), LoRA rank {args.rank} "
          f"({sum(p.numel() for p in params) / 1e6:.1f} M trained), gradient checkpointing "
          f"{'off' if args.no_checkpointing else 'on'}{settings}")
    print(f"shape: {args.resolution}² ({tokens}), N={N} G={G} K={K} B={B}, capture {args.capture_layers or 'off'}; "
          f"medians of {args.repeats}")
    print(f"  rollout  (G·K = {G * K} no-grad {unit} per group) {med['rollout']:8.3f} s   "
          f"alone {med['alone_rollout']:8.3f} s")
    print(f"  training (B·K = {B * K} forward+backward per group)   {med['train']:8.3f} s   "
          f"alone {med['alone_train']:8.3f} s   (incl. policy, clip objective, AdamW)")
    print(f"  step (rollout + training)                        {med['step']:8.3f} s   alone {alone:8.3f} s")
    print(f"  ratio step / transformer passes alone: {ratio:.3f}  (target ≤ 1.15)")
    print(f"  decode of the {N * G} candidates (random {vae} VAE, not in the step): {med['decode']:.3f} s")
    if device.type == "cuda":
        print(f"  peak GPU memory in the step: {med['peak_step_gib']:.1f} GiB "
              f"(max over the run {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": name, "args": {k: str(v) for k, v in vars(args).items()},
                                        "medians_s": med, "ratio": ratio, "raw": result}, indent=2))
        print(f"wrote {args.out}")
