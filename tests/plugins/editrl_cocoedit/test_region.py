"""CoCoEdit's region regulariser against hand-computed values (docs/method.md §8): erosion and the boundary ring, the
weighted distance, each hinge term with its branch weight, both anchors."""

from __future__ import annotations

import pytest
import torch

from editrl.interfaces import LossChunk, Rollout
from editrl.interfaces.optimizer import ChunkTensors
from editrl_cocoedit.region import CocoEditRegion, erode, region_weights, weighted_distance

# One latent row of 6 cells, the first 3 to be edited: [1, 1, 1, 0, 0, 0].
EDIT = torch.tensor([1.0, 1, 1, 0, 0, 0]).view(1, 1, 1, 6)


def test_erosion_and_ring():
    # Radius 1 (a 3-cell window; cells outside the grid never erode):
    #   erode(keep) = 1 − maxpool(edit) = 1 − [1, 1, 1, 1, 0, 0] = [0, 0, 0, 0, 1, 1]
    #   erode(edit) = 1 − maxpool(keep) = 1 − [0, 0, 1, 1, 1, 1] = [1, 1, 0, 0, 0, 0]
    #   ring = 1 − clamp(sum) = [0, 0, 1, 1, 0, 0];  ring_weight 0.2:
    #   W_keep = [0, 0, .2, .2, 1, 1],  W_edit = [1, 1, .2, .2, 0, 0]
    assert erode(1 - EDIT, 1).flatten().tolist() == [0, 0, 0, 0, 1, 1]
    w_keep, w_edit = region_weights(EDIT, 1, 0.2)
    torch.testing.assert_close(w_keep.flatten(), torch.tensor([0, 0, 0.2, 0.2, 1, 1]))
    torch.testing.assert_close(w_edit.flatten(), torch.tensor([1, 1, 0.2, 0.2, 0, 0]))
    # no erosion: no ring, the weights are the regions themselves
    w_keep, w_edit = region_weights(EDIT, 0, 0.2)
    assert w_keep.flatten().tolist() == [0, 0, 0, 1, 1, 1] and w_edit.flatten().tolist() == [1, 1, 1, 0, 0, 0]


def test_weighted_distance_counts_channels():
    # Two channels with the same differences [1, 2, 3, 4, 5, 6]; W_keep above:
    #   Σ W·d² = 2·(0.2·9 + 0.2·16 + 25 + 36) = 2·66, Σ W over channels = 2·2.4 → 66/2.4 = 27.5
    #   W_edit: 2·(1 + 4 + 0.2·9 + 0.2·16) / (2·2.4) = 10/2.4 = 4.1667
    diff = torch.arange(1.0, 7.0).view(1, 1, 1, 6).expand(1, 2, 1, 6)
    w_keep, w_edit = region_weights(EDIT, 1, 0.2)
    zero = torch.zeros_like(diff)
    assert float(weighted_distance(diff, zero, w_keep)) == pytest.approx(27.5)
    assert float(weighted_distance(diff, zero, w_edit)) == pytest.approx(10 / 2.4)
    # an empty region: Σ W = 0 is floored, the distance is 0
    assert float(weighted_distance(diff, zero, torch.zeros_like(w_keep))) == 0.0


def _chunk_and_rollout():
    """Two rows, one per example. Example 0 edits the first 3 cells, example 1 has an empty mask; sources are 0."""
    mask = torch.stack([EDIT[0], torch.zeros(1, 1, 6)])  # [2, 1, 1, 6]
    x0_pos = torch.tensor([[5, 5, 0.1, 0.1, 0.1, 0.1], [0.01] * 6]).view(2, 1, 1, 6)
    x0_neg = torch.tensor([[0.1, 0.1, 0, 0, 9, 9], [7.0] * 6]).view(2, 1, 1, 6)
    x0 = torch.tensor([[5, 5, 0.1, 0.1, 0.1, 0.1], [0.01] * 6]).view(2, 1, 1, 6)
    tensors = ChunkTensors(
        rows=torch.tensor([0, 1]), x=torch.zeros(2, 1, 1, 6), sigma=torch.ones(2), cond=None, x0=x0,
        x0_pos=x0_pos, x0_neg=x0_neg, optimality=torch.tensor([0.75, 0.5]),
    )
    rollout = Rollout(cond=None, sigmas=torch.tensor([1.0, 0.0]), noise=None, final=torch.zeros(2, 1, 1, 1, 6),
                      latent_mask=mask, source_latents=torch.zeros(2, 1, 1, 6))
    return LossChunk(loss=torch.zeros(()), share=1.0, tensors=tensors), rollout


def test_region_terms_hand_computed():
    # erode 1, ring 0.2, τ⁺ = 1e-3, τ⁻ = 3e-2, λ_ner = 0.8, λ_er = 0.5, anchor = source (0).
    # Row 0 (r = 0.75): W_keep = [0, 0, .2, .2, 1, 1] (Σ 2.4), W_edit = [1, 1, .2, .2, 0, 0] (Σ 2.4)
    #   d_keep(x̂⁺) = (.2·.01 + .2·.01 + .01 + .01)/2.4 = 0.01      → L_ner = 0.01 − 0.001 = 0.009
    #   d_edit(x̂⁻) = (.01 + .01 + 0 + 0)/2.4 = 0.0083333           → L_er = 0.03 − 0.0083333 = 0.0216667
    #   term = 0.75·0.8·0.009 + 0.25·0.5·0.0216667 = 0.0054 + 0.0027083 = 0.0081083
    # Row 1 (r = 0.5), empty mask: W_keep = 1 everywhere, W_edit = 0 (ring empty: nothing to erode against)
    #   d_keep = 1e-4 < τ⁺ → 0;  d_edit = 0 (empty region) → L_er = 0.03;  term = 0.5·0.5·0.03 = 0.0075
    # mean over the two rows: 0.0078042
    chunk, rollout = _chunk_and_rollout()
    reg = CocoEditRegion(CocoEditRegion.Config(lambda_ner=0.8, lambda_er=0.5, erode=1))
    term, stats = reg.loss(None, chunk, rollout)
    assert float(term) == pytest.approx(0.0078042, abs=1e-7)
    assert stats["reg/cocoedit_region/ner_active"] == 0.5 and stats["reg/cocoedit_region/er_active"] == 1.0
    # The sample as the positive anchor (CoCoEdit's code): x_0 = x̂⁺ in both rows → L_ner = 0;
    # the mean is (0.0027083 + 0.0075)/2 = 0.0051042.
    reg = CocoEditRegion(CocoEditRegion.Config(lambda_ner=0.8, lambda_er=0.5, erode=1, ner_anchor="sample"))
    assert float(reg.loss(None, chunk, rollout)[0]) == pytest.approx(0.0051042, abs=1e-7)
    # Without erosion W_keep of row 0 is [0, 0, 0, 1, 1, 1]: d_keep = 0.03/3 = 0.01, the same L_ner; W_edit is
    # [1, 1, 1, 0, 0, 0]: d_edit = 0.02/3 = 0.0066667 → L_er = 0.0233333, row 0 = 0.0054 + 0.125·0.0233333
    # = 0.0083167; mean with row 1: 0.0079083.
    reg = CocoEditRegion(CocoEditRegion.Config(lambda_ner=0.8, lambda_er=0.5, erode=0))
    assert float(reg.loss(None, chunk, rollout)[0]) == pytest.approx(0.0079083, abs=1e-7)


def test_region_gradient_flows_to_the_branches():
    chunk, rollout = _chunk_and_rollout()
    chunk.tensors.x0_pos.requires_grad_(True)
    chunk.tensors.x0_neg.requires_grad_(True)
    term, _ = CocoEditRegion(CocoEditRegion.Config(erode=1)).loss(None, chunk, rollout)
    term.backward()
    # L_ner of row 0 is active: its gradient pulls the kept cells of x̂⁺ towards the source (positive values
    # → positive gradient); the cells outside W_keep get none.
    g = chunk.tensors.x0_pos.grad[0].flatten()
    assert (g[:2] == 0).all() and (g[2:] > 0).all()
    # L_er is active in both rows: it pushes x̂⁻'s edit cells away from the source (positive values → negative
    # gradient); row 1 has no edit region, so no gradient.
    gn = chunk.tensors.x0_neg.grad
    assert (gn[0].flatten()[:2] < 0).all() and (gn[0].flatten()[4:] == 0).all() and (gn[1] == 0).all()
