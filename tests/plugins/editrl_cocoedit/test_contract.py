"""The optimiser → regulariser contract this plugin relies on: typed chunk fields, what each side declares, and
``velocity_kl`` reading the same fields from either optimiser's chunks in a real engine step."""

from __future__ import annotations

import pytest
import torch

from tests_support import REPO, TINY, TOY_RECIPE
from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer
from editrl.interfaces import PolicyOptimizer
from editrl.interfaces.optimizer import CHUNK_FIELDS
from editrl_cocoedit.nft import DiffusionNft
from editrl_cocoedit.region import CocoEditRegion

COCOEDIT = REPO / "recipes" / "toy" / "cocoedit.yaml"
TINY_NFT = ["train.batch_size=2", "exploration.group_size=4", "solver.steps=4", "train.save_every=0"]


def test_declarations_use_the_chunk_vocabulary():
    assert DiffusionNft.provides <= CHUNK_FIELDS
    assert CocoEditRegion.requires & CHUNK_FIELDS <= DiffusionNft.provides
    with pytest.raises(TypeError, match="x0_plus"):
        type("Typo", (PolicyOptimizer,), {"name": "typo", "provides": frozenset({"x0_plus"})})


def test_region_needs_masks_from_the_dataset(cli):
    # without masks the regulariser is refused naming the dataset, not the optimiser
    result = cli("validate", REPO / "recipes" / "cocoedit_flux.yaml", "dataset.fields=[]")
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "regularizers.0: regularizer 'cocoedit_region' needs 'mask', but dataset 'edit_folder' does not " \
           "provide 'mask'" in text


@pytest.mark.parametrize("recipe,overrides", [(TOY_RECIPE, TINY), (COCOEDIT, TINY_NFT)], ids=["grpo_clip", "nft"])
def test_velocity_kl_reads_either_optimisers_chunks(recipe, overrides, tmp_path):
    cfg, registry = load_recipe(recipe, [*overrides, f"output_dir={tmp_path}", "regularizers=[{type: velocity_kl}]"])
    t = Trainer(cfg, build_components(cfg, registry))
    t.setup()
    with torch.no_grad():  # LoRA starts at B = 0 (θ = base, KL = 0): move θ off the base first
        for p in t.lora.trainable_parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    batch = t.cursor.next_batch()
    rollout, images, maps = t.roll_out(batch)
    advantages, _ = t.c.optimizer.advantages(t.score(batch, rollout, images, maps).total, t.generator)
    chunk = next(iter(t.c.optimizer.loss_chunks(t.ctx, rollout, advantages)))
    tensors = chunk.tensors
    R = tensors.rows.shape[0]
    assert tensors.x.shape[0] == tensors.sigma.shape[0] == tensors.velocity.shape[0] == R
    assert int(tensors.rows.max()) < len(batch)  # rows index the rollout's examples
    term, stats = t.c.regularizers[0].loss(t.ctx, chunk, rollout)
    assert term.requires_grad and float(term.detach()) > 0
    assert stats["reg/velocity_kl"] == pytest.approx(float(term.detach()))
    # recomputed by hand: v_θ against the LoRA-free velocity at the chunk's own states
    with torch.no_grad(), t.lora.disabled():
        base = t.c.backbone.velocity(tensors.x, tensors.sigma, tensors.cond)
    torch.testing.assert_close(term.detach(), (tensors.velocity.detach() - base).pow(2).mean())
