"""``rdp.mask_dilate``: the engine dilates the edit mask once, and the noise (RDP), the masked policy and ACD's token
mask all see that one dilated mask (issue 9 §4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tests_support import TINY, TOY_RECIPE
from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer
from editrl.interfaces.backbone import dilate_mask
from editrl_rc_grpo.rdp import RegionDecoupledPerturbation

RC_RECIPE = TOY_RECIPE.parent / "rc_grpo.yaml"
DILATE = 3


def test_dilate_mask_hand_computed():
    # One edit cell at (2, 2) of a 5×5 grid; dilation by 1 makes the 3×3 square (1..3, 1..3) edit, by 2 the whole
    # grid (every cell is within 2 of (2, 2) in both coordinates), by 0 nothing changes.
    mask = torch.zeros(1, 1, 5, 5)
    mask[0, 0, 2, 2] = 1
    one = torch.zeros(1, 1, 5, 5)
    one[0, 0, 1:4, 1:4] = 1
    assert torch.equal(dilate_mask(mask, 0), mask)
    assert torch.equal(dilate_mask(mask, 1), one)
    assert torch.equal(dilate_mask(mask, 2), torch.ones(1, 1, 5, 5))
    # An edit cell in the corner: the border is not padded with edit, the square is cut off.
    corner = torch.zeros(1, 1, 4, 4)
    corner[0, 0, 0, 0] = 1
    assert float(dilate_mask(corner, 1).sum()) == 4


def test_rdp_declares_its_dilation():
    assert RegionDecoupledPerturbation(RegionDecoupledPerturbation.Config(mask_dilate=2)).mask_dilate == 2
    assert RegionDecoupledPerturbation(RegionDecoupledPerturbation.Config()).mask_dilate == 0


def test_noise_policy_and_acd_see_one_dilated_mask(tmp_path):
    cfg, registry = load_recipe(
        RC_RECIPE, [*TINY, f"output_dir={tmp_path / 'run'}", f"exploration.mask_dilate={DILATE}"]
    )
    t = Trainer(cfg, build_components(cfg, registry))
    t.setup()
    seen: dict[str, list[torch.Tensor]] = {"batch": [], "exploration": [], "policy": [], "acd": []}

    def spy(obj, method: str, key: str, pick):
        original = getattr(obj, method)

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            seen[key].append(pick(args, out))
            return out

        setattr(obj, method, wrapper)

    acd = next(r for r in t.c.rewards if r.name == "acd")
    spy(t.cursor, "next_batch", "batch", lambda a, out: out.mask)  # [N, 1, 32, 32] pixel mask
    spy(t.c.exploration, "sample", "exploration", lambda a, out: a[2])  # latent_mask argument
    spy(t.c.policy, "log_probs", "policy", lambda a, out: a[2])  # latent_mask argument
    spy(acd, "score", "acd", lambda a, out: a[0].token_mask)  # RewardInputs.token_mask [N·G, 64]
    metrics = t.train_step()
    assert metrics["skipped_steps"] == 0

    # The expectation, built independently of the engine: the toy's latent grid is its pixel grid (32×32), a cell is
    # edit if an edit cell lies within DILATE cells in both directions (a box sum > 0), and a token (4×4 cells, 8×8
    # tokens, row-major) is edit if any of its cells is.
    pixel = seen["batch"][0].float()  # [N, 1, 32, 32]
    box = F.conv2d(pixel, torch.ones(1, 1, 2 * DILATE + 1, 2 * DILATE + 1), padding=DILATE)  # [N, 1, 32, 32]
    latent = (box > 0).float()  # [N, 1, 32, 32]
    tokens = latent.view(-1, 8, 4, 8, 4).amax(dim=(2, 4)).flatten(1)  # [N, 64]
    undilated_tokens = pixel.view(-1, 8, 4, 8, 4).amax(dim=(2, 4)).flatten(1)  # [N, 64]
    assert not torch.equal(latent, pixel) and not torch.equal(tokens, undilated_tokens)  # the dilation matters here

    assert len(seen["exploration"]) == 1 and torch.equal(seen["exploration"][0].cpu(), latent)
    assert len(seen["policy"]) >= 2 * t.c.solver.steps  # θ and θ_old log-probs at every trained step
    for mask in seen["policy"]:
        assert torch.equal(mask.cpu(), latent)
    G = t.c.exploration.group_size
    assert torch.equal(seen["acd"][0].cpu(), tokens.repeat_interleave(G, dim=0))
