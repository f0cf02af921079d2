"""Flow-matching pretraining of the base toy editor on the toy_shapes train split (``editrl toy pretrain``)."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import Field

from editrl.component import ComponentConfig
from editrl.interfaces import EditBatch
from editrl_toy.allocator import keep_freed_memory
from editrl_toy.backbone import ToyEditor, ToyEditorConfig, build_network
from editrl_toy.dataset import ToyShapes, ToyShapesConfig
from editrl_toy.evaluate import baseline
from editrl_toy.imperfect import ImperfectionConfig, imperfect_targets
from editrl_toy.vocabulary import tokenize

WEIGHTS_NAME = "toy_editor.safetensors"
META_NAME = "toy_editor.json"


class PretrainConfig(ComponentConfig):
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of the initialisation, the batch order, σ and the noise."""
    data_seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of the toy_shapes world (train split for training, eval split for the final table)."""
    steps: int = Field(1000, ge=1, le=10**7)
    """Optimiser steps."""
    batch_size: int = Field(32, ge=1, le=4096)
    """Examples per step."""
    lr: float = Field(2e-3, gt=0.0, le=1.0)
    """Peak AdamW learning rate (linear warm-up, then cosine decay to ``lr·min_lr_ratio``)."""
    warmup: int = Field(100, ge=0, le=10**6)
    """Warm-up steps."""
    min_lr_ratio: float = Field(0.05, ge=0.0, le=1.0)
    """Final learning rate over the peak."""
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    """AdamW weight decay."""
    grad_clip: float = Field(1.0, gt=0.0)
    """Gradient-norm clip."""
    edit_weight: float = Field(4.0, ge=0.0, le=100.0)
    """Extra loss weight inside the edit mask: ``w = 1 + edit_weight·mask``."""
    mask_weight: float = Field(0.05, ge=0.0, le=100.0)
    """Weight of the auxiliary loss that teaches the editor's gate the edit mask (BCE on its logits)."""
    imperfection: ImperfectionConfig = ImperfectionConfig()
    """The systematic errors taught through the targets (partial edits, spill-over, drift); none by default."""
    gate_threshold: float = Field(0.01, gt=0.0, le=1.0)
    """The gate's BCE target is 1 where the training target differs from the source by more than this ([0, 1]
    units, largest channel) or inside the edit mask: the mask for exact targets, plus the spilled and drifted pixels
    otherwise."""
    min_sigma: float = Field(0.02, ge=0.0, lt=1.0)
    """Training σ ~ U(min_sigma, 1)."""
    threads: int = Field(2, ge=1, le=256)
    """``torch.set_num_threads``."""
    eval_every: int = Field(0, ge=0)
    """Evaluate the eval split every this many steps (0: only at the end)."""
    log_every: int = Field(50, ge=1)
    """Print the running loss every this many steps."""


def _lr_at(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _draw_noise(cfg: PretrainConfig, shape: torch.Size, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A step's ``σ [B] ~ U(min_sigma, 1)`` and ``ε [B, 3, 32, 32] ~ N(0, I)``."""
    sigma = cfg.min_sigma + (1 - cfg.min_sigma) * torch.rand(shape[0], generator=gen)
    return sigma, torch.randn(shape, generator=gen)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def pretrain(
    cfg: PretrainConfig,
    arch: ToyEditorConfig,
    out: Path,
    command: str,
    log: Callable[[str], None] = print,
    on_step: Callable[[int, float], None] | None = None,
) -> dict:
    """Train a base editor with flow matching and write ``toy_editor.safetensors`` + ``toy_editor.json`` to ``out``.

    Each step draws ``batch_size`` train examples, σ ~ U(min_sigma, 1) and ε ~ N(0, I), forms
    ``x_σ = (1 − σ)·x_0 + σ·ε`` and regresses the network's clean prediction x̂_0 onto the target latent with weights
    ``1 + edit_weight·mask`` (x_0-space flow-matching loss; the velocity loss is this divided by σ²), plus
    ``mask_weight`` times the BCE of the editor's gate logits against where the target differs from the source. The
    target is the ground truth made imperfect by ``cfg.imperfection`` (:mod:`editrl_toy.imperfect`).

    Args:
        cfg: training settings.
        arch: the architecture (``weights`` is ignored; ``init_seed`` is replaced by ``cfg.seed``).
        out: output directory (created).
        command: the command line recorded in the json.
        log: where progress lines go.
        on_step: called after each step with (step, loss), e.g. to advance a progress bar.

    Returns:
        The json metadata that was written.
    """
    torch.set_num_threads(cfg.threads)
    keep_freed_memory()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    arch = arch.model_copy(update={"weights": "random", "init_seed": cfg.seed})
    net = build_network(arch).train()
    n_params = sum(p.numel() for p in net.parameters())
    log(f"toy editor {arch.architecture()} — {n_params / 1e6:.3f}M parameters, {cfg.steps} steps × {cfg.batch_size}")
    data = ToyShapes(ToyShapesConfig(seed=cfg.data_seed))
    train, eval_split = data.split("train"), data.split("eval")
    eval_examples = list(eval_split)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    start = time.perf_counter()
    running = None
    history = []
    for step in range(cfg.steps):
        idx = torch.randint(len(train), (cfg.batch_size,), generator=gen).tolist()
        batch = EditBatch.collate([train[i] for i in idx])
        text, text_mask = tokenize(batch.instructions, arch.max_text_len)  # [B, T] each
        coupled = cfg.imperfection.coupling == "noise"
        if coupled:  # the faults are read off each pair's own noise, drawn first
            sigma, eps = _draw_noise(cfg, batch.source.shape, gen)  # [B], [B, 3, 32, 32]
        goal = imperfect_targets(
            batch.source, batch.target, batch.mask, cfg.imperfection, gen, noise=eps if coupled else None
        )  # [B, 3, 32, 32]
        moved = ((goal - batch.source).abs().amax(1, keepdim=True) > cfg.gate_threshold).float()  # [B, 1, 32, 32]
        changed = torch.maximum(batch.mask, moved)  # [B, 1, 32, 32]: the mask and wherever the target moved
        x0 = goal * 2 - 1  # [B, 3, 32, 32]
        src = batch.source * 2 - 1
        if not coupled:
            sigma, eps = _draw_noise(cfg, x0.shape, gen)
        s = sigma[:, None, None, None]
        x_sigma = (1 - s) * x0 + s * eps
        pred, gate_logits = net.predict(x_sigma, sigma, text, text_mask, src)
        weight = 1 + cfg.edit_weight * batch.mask  # [B, 1, 32, 32]
        loss = (weight * (pred - x0).pow(2)).mean() / weight.mean()
        if cfg.mask_weight:
            loss = loss + cfg.mask_weight * F.binary_cross_entropy_with_logits(gate_logits, changed)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        if on_step is not None:
            on_step(step + 1, running)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            log(f"step {step + 1}/{cfg.steps} loss {running:.5f} lr {_lr_at(step, cfg):.2e} "
                f"elapsed {time.perf_counter() - start:.0f}s")  # fmt: skip
        if cfg.eval_every and (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:
            table = _evaluate(net, arch, eval_examples)
            history.append({"step": step + 1, "loss": running, "base editor": table})
            log(_summary(step + 1, table))
    train_seconds = time.perf_counter() - start
    table = _evaluate(net, arch, eval_examples, full=True)
    log(_summary(cfg.steps, table["base editor"]))
    meta = {
        "architecture": arch.architecture(),
        "parameters": n_params,
        "command": command,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "settings": cfg.model_dump(),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "train_time_s": round(train_seconds, 1),
        "threads": cfg.threads,
        "torch": torch.__version__,
        "final_metrics": {"train_loss": running, "eval": table, "eval_history": history},
    }
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}

    def write_weights(path: Path) -> None:
        from safetensors.torch import save_file

        save_file(state, str(path), metadata={"format": "pt", "architecture": json.dumps(arch.architecture())})

    _atomic_write(out / WEIGHTS_NAME, write_weights)
    _atomic_write(out / META_NAME, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
    log(f"wrote {out / WEIGHTS_NAME} and {out / META_NAME} ({meta['wall_time_s']} s)")
    return meta


def _evaluate(net, arch: ToyEditorConfig, examples, full: bool = False) -> dict:
    """Baseline table of the network being trained (eval mode, restored afterwards)."""
    backbone = ToyEditor(arch)
    backbone.denoiser = net
    was_training = net.training
    net.eval()
    try:
        table = baseline(backbone, examples)
    finally:
        net.train(was_training)
    return table if full else table["base editor"]


def _summary(step: int, per_task: dict) -> str:
    parts = [f"{task}: fg {m['foreground']:.2f} bg {m['bg_psnr']:.1f}dB" for task, m in per_task.items()]
    return f"eval @ {step}: " + " | ".join(parts)
