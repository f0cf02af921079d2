"""Where does a training step's time go? Backbone passes versus everything else (the engine's overhead).

Builds the recipe's trainer, runs a few warm-up steps, then times N steps. The backbone's forward passes are timed by
wrapping ``backbone.velocity`` (rollout and training forwards alike) and the backward passes by wrapping
``accelerator.backward``; everything else in the step (noise, encoding, decoding, rewards, the policy softmax,
advantages, AdamW, logging) is engine overhead. Prints one table and the overhead ratio (target ≤ 0.15).

    python benchmarks/step_profile.py recipes/toy/neighbor_grpo.yaml --steps 20
    python benchmarks/step_profile.py recipes/toy/neighbor_grpo.yaml exploration.group_size=12 --steps 10
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer


class Stopwatch:
    def __init__(self) -> None:
        self.total = 0.0
        self.calls = 0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0
                self.calls += 1

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe")
    parser.add_argument("overrides", nargs="*", help="key=value recipe overrides")
    parser.add_argument("--steps", type=int, default=20, help="measured steps")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured steps first")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as out:
        total_steps = args.warmup + args.steps
        recipe, registry = load_recipe(
            args.recipe, [*args.overrides, f"output_dir={out}", f"train.steps={total_steps}", "train.save_every=0"]
        )
        trainer = Trainer(recipe, build_components(recipe, registry))
        trainer.setup()
        for _ in range(args.warmup):
            trainer.step += 1
            trainer.train_step()
        forward, backward = Stopwatch(), Stopwatch()
        backbone = trainer.c.backbone
        backbone.velocity = forward.wrap(backbone.velocity)
        trainer.accelerator.backward = backward.wrap(trainer.accelerator.backward)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            trainer.step += 1
            trainer.train_step()
        step_time = (time.perf_counter() - t0) / args.steps
    fwd, bwd = forward.total / args.steps, backward.total / args.steps
    other = step_time - fwd - bwd
    print(f"recipe {args.recipe} {' '.join(args.overrides)}  ({args.steps} steps after {args.warmup} warm-up, "
          f"{torch.get_num_threads()} threads)")
    print(f"{'part':<28}{'s/step':>10}{'share':>9}")
    for name, t in [("backbone forward passes", fwd), ("backbone backward passes", bwd), ("engine overhead", other)]:
        print(f"{name:<28}{t:>10.4f}{t / step_time:>9.1%}")
    print(f"{'step':<28}{step_time:>10.4f}")
    print(f"forward calls/step {forward.calls / args.steps:.0f}, backward calls/step {backward.calls / args.steps:.0f}")
    print(f"overhead ratio {other / step_time:.3f} (target <= 0.15)")


if __name__ == "__main__":
    main()
