"""What the condition cache saves on the tiny FLUX.1 Kontext pipeline, in one run: step time with a warm disk cache
against encoding every step, and the bytes of encoder parameters no longer resident.

Builds the tiny random Kontext pipeline (``editrl_flux.tiny``) in a temporary folder and two real trainers on it from
``recipes/rc_grpo.yaml`` (the judge replaced by ``cocoedit_similarity``, so nothing is served), over the same toy
examples: ``condition_cache: off`` (T5, CLIP and the VAE encoder loaded, every step encodes) and ``disk`` after
``editrl.cache.fill`` wrote every example (the trainer then loads no encoder). It times ``Trainer.train_step`` in
alternating blocks of steps (the machine's load drifts; medians per mode) and sums the parameters each trainer's
backbone holds. Prints both, their ratios, and the encoder bytes left out.

    python benchmarks/condition_cache.py                # about 2 minutes on 2 CPU cores
    python benchmarks/condition_cache.py --steps 10 --blocks 4 --resolution 64

On the tiny pipeline the encoders are a small part of the step (the issue measured per-step re-encoding at about 2%
of the step time); with T5-XXL (≈ 9.5 GB in bf16) or the Qwen2.5-VL encoder (≈ 15 GB) the bytes are what matters.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))  # until `pip install -e .` has editrl_flux


def trainer(tiny: Path, out: Path, cache: Path, mode: str, args):
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.trainer import Trainer

    overrides = [
        f"dataset={{type: toy_shapes, train_size: {args.examples}, eval_size: 3}}",
        "rewards.0={type: cocoedit_similarity, weight: 1.0}", f"backbone.model={tiny}", "backbone.dtype=fp32",
        "backbone.max_sequence_length=64", f"backbone.resolution={args.resolution}", "backbone.gradient_checkpointing=false",
        f"backbone.condition_cache={mode}", f"backbone.condition_cache_dir={cache}",
        f"exploration.group_size={args.group_size}", "solver.steps=4", "optimizer.anchors=2", "train.batch_size=2",
        f"train.steps={10**6}", "train.device=cpu", "train.save_every=0", "eval.at_end=false", f"output_dir={out / mode}",
    ]
    cfg, registry = load_recipe(REPO / "recipes" / "rc_grpo.yaml", overrides)
    t = Trainer(cfg, build_components(cfg, registry))
    t.setup()
    return t, cfg


def resident_bytes(backbone) -> int:
    """Bytes of every parameter the backbone holds (transformer, VAE halves, text encoders), each counted once."""
    modules = [getattr(backbone, n, None) for n in backbone.component_names]
    params = {id(p): p for m in modules if isinstance(m, torch.nn.Module) for p in m.parameters()}
    return sum(p.numel() * p.element_size() for p in params.values())


def main() -> None:
    """1. the tiny pipeline and the uncached trainer, whose backbone fills the disk cache; 2. the cached trainer;
    3. alternating timed blocks of steps; 4. medians, resident bytes and their ratios."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="steps per timed block")
    p.add_argument("--blocks", type=int, default=3, help="timed blocks per mode, alternating")
    p.add_argument("--examples", type=int, default=8, help="train examples (all of them cached)")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--group-size", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)  # the tiny ops are microseconds long: threads only add overhead

    from editrl.cache.fill import fill
    from editrl.cache.install import open_store
    from editrl_flux.tiny import build_tiny_kontext

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_tiny_kontext(tmp / "tiny")
        # step 1 (the uncached trainer's loaded backbone fills the cache, as `editrl data encode` does)
        off, cfg = trainer(tmp / "tiny", tmp, tmp / "cache", "off", args)
        bkey, store = open_store(off.c.backbone, "disk")
        fill(off.c.backbone, lambda: None, store, bkey, off.c.dataset.split("train"), batch_size=4)
        # step 2 (it loads no encoder)
        warm, _ = trainer(tmp / "tiny", tmp, tmp / "cache", "disk", args)
        print(warm.cache_report)
        # step 3 (one warm-up step each first)
        times = {"off": [], "disk": []}
        for t in (off, warm):
            t.train_step()
        for _ in range(args.blocks):
            for mode, t in (("off", off), ("disk", warm)):
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    t.train_step()
                    times[mode].append(time.perf_counter() - t0)
        assert warm.c.backbone.condition_cache.encoder_calls == 0
        # step 4
        med = {k: statistics.median(v) for k, v in times.items()}
        b_off, b_warm = resident_bytes(off.c.backbone), resident_bytes(warm.c.backbone)
        print(f"tiny Kontext at {args.resolution}², N=2 G={args.group_size} K=4, {args.examples} examples; medians of "
              f"{args.blocks * args.steps} steps per mode")
        print(f"  step time: no cache {med['off'] * 1e3:.1f} ms, warm cache {med['disk'] * 1e3:.1f} ms, "
              f"ratio warm/no cache {med['disk'] / med['off']:.3f}")
        print(f"  resident parameters: no cache {b_off} B, warm cache {b_warm} B, ratio {b_warm / b_off:.3f}; "
              f"encoder parameters no longer resident {b_off - b_warm} B "
              f"(backbone.encoder_bytes() = {warm.c.backbone.encoder_bytes()} B)")


if __name__ == "__main__":
    main()
