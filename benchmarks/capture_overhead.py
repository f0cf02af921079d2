"""Attention capture's cost: rollout time with ACD capture on versus off, same batch, same noise, one run.

    python benchmarks/capture_overhead.py recipes/toy/rc_grpo.yaml --repeats 10

Prints both times (median of repeats, interleaved) and their ratio (target ≤ 1.05), and checks the latents match.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from editrl.engine.build import build_components, load_recipe
from editrl.engine.rollout import integrate
from editrl.engine.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--layers", type=int, default=2, help="last layers captured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        cfg, registry = load_recipe(args.recipe, [*args.overrides, f"output_dir={out}"])
        t = Trainer(cfg, build_components(cfg, registry))
        t.setup()
        c = t.c
        batch = t.cursor.next_batch()
        G = c.exploration.group_size
        shape = c.backbone.latent_shape(batch)
        cond = c.backbone.encode_condition(batch).repeat_interleave(G)
        x_T = torch.randn(len(batch) * G, *shape, generator=torch.Generator().manual_seed(0))
        sigmas = c.backbone.sigmas(c.solver.steps, shape)

        def rollout(capture: bool) -> tuple[float, torch.Tensor]:
            t0 = time.perf_counter()
            if capture:
                with c.backbone.capture_attention(args.layers):
                    x0, _ = integrate(c.backbone, c.solver, x_T, cond, sigmas, keep_states=True)
            else:
                x0, _ = integrate(c.backbone, c.solver, x_T, cond, sigmas, keep_states=True)
            return time.perf_counter() - t0, x0

        rollout(True), rollout(False)  # warm-up
        on, off = [], []
        for _ in range(args.repeats):
            dt_off, x_off = rollout(False)
            dt_on, x_on = rollout(True)
            off.append(dt_off)
            on.append(dt_on)
    assert torch.equal(x_on, x_off), "capture changed the rollout"
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"rollout of {len(batch)}×{G} candidates × {c.solver.steps} steps, {torch.get_num_threads()} threads")
    print(f"capture off {m_off:.4f} s, capture on ({args.layers} layers) {m_on:.4f} s")
    print(f"ratio {m_on / m_off:.3f} (target <= 1.05); latents identical")


if __name__ == "__main__":
    main()
