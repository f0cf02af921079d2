"""DiffusionNFT against GRPO-clip on the toy editor at equal G and K: rollout memory and step time, one run each.

Both run recipes/toy/cocoedit.yaml's world, exploration (iid) and rewards with no regulariser; only the optimiser
differs (GRPO-clip gets the euclidean leaping policy, B anchors). Rollout memory is the bytes of what a rollout
keeps for training (GRPO-clip: every solver state; NFT: the final samples); step times are the median over the
measured steps, after one warm-up step.

    python benchmarks/nft_memory.py                      # G = 8, K = 8, 4 groups, 3 measured steps
    python benchmarks/nft_memory.py --group-size 12 --steps 16 --measure 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from editrl.engine.build import build_components, load_recipe  # noqa: E402
from editrl.engine.trainer import Trainer  # noqa: E402
from editrl.interfaces import Rollout  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "toy" / "cocoedit.yaml"


def rollout_bytes(rollout: Rollout) -> int:
    """Bytes of the tensors a rollout keeps until its loss is computed."""
    tensors = [rollout.final, rollout.states, rollout.latent_mask, rollout.source_latents, rollout.noise.x_T]
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def measure(name: str, overrides: list[str], warmup: int, steps: int) -> dict[str, float]:
    """1. build the trainer; 2. one rollout's kept bytes; 3. ``warmup`` + ``steps`` real steps, median times."""
    with tempfile.TemporaryDirectory() as tmp:
        # step 1
        cfg, registry = load_recipe(RECIPE, [*overrides, f"output_dir={tmp}/{name}", "train.save_every=0"])
        trainer = Trainer(cfg, build_components(cfg, registry))
        trainer.setup()
        # step 2
        rollout, _, _ = trainer.roll_out(trainer.cursor.next_batch())
        kept = rollout_bytes(rollout)
        # step 3
        runs = []
        for _ in range(warmup + steps):
            trainer.step += 1
            runs.append(trainer.train_step())
        runs = runs[warmup:]
    med = lambda key: statistics.median(m[key] for m in runs)  # noqa: E731
    return {"rollout_bytes": kept, "rollout_s": med("time/rollout_s"), "train_s": med("time/train_s"),
            "step_s": med("time/step_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group-size", type=int, default=8, help="G, candidates per group (both optimisers)")
    parser.add_argument("--steps", type=int, default=8, help="K, solver steps of a rollout (both optimisers)")
    parser.add_argument("--batch-size", type=int, default=4, help="groups per step")
    parser.add_argument("--anchors", type=int, default=4, help="GRPO-clip's B")
    parser.add_argument("--measure", type=int, default=3, help="measured steps per optimiser (after 1 warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    common = [f"exploration.group_size={args.group_size}", f"solver.steps={args.steps}",
              f"train.batch_size={args.batch_size}", "regularizers=[]", "eval.at_end=false"]
    nft = measure("nft", common, 1, args.measure)
    grpo = measure("grpo", [*common, f"optimizer={{type: grpo_clip, anchors: {args.anchors}}}",
                            "policy={type: euclidean, bandwidth: median}"], 1, args.measure)
    print(f"toy editor, G = {args.group_size}, K = {args.steps}, {args.batch_size} groups/step, "
          f"B = {args.anchors} (GRPO-clip), {args.measure} measured steps, {torch.get_num_threads()} threads")
    print(f"{'':>16} {'rollout kept':>14} {'rollout s':>10} {'train s':>10} {'step s':>10}")
    for label, m in (("diffusion_nft", nft), ("grpo_clip", grpo)):
        print(f"{label:>16} {m['rollout_bytes'] / 2**20:>11.2f} MiB {m['rollout_s']:>10.3f} {m['train_s']:>10.3f} "
              f"{m['step_s']:>10.3f}")
    ratio = lambda key: nft[key] / grpo[key]  # noqa: E731
    print(f"{'NFT / GRPO-clip':>16} {ratio('rollout_bytes'):>14.3f} {ratio('rollout_s'):>10.3f} "
          f"{ratio('train_s'):>10.3f} {ratio('step_s'):>10.3f}")


if __name__ == "__main__":
    main()
