"""Attention capture: rollouts unchanged, probabilities equal a naive full softmax, processors restored."""

from __future__ import annotations

import pytest
import torch
from diffusers_support import (
    capture_and_spy, capture_with_checkpointing, check_capture_maps, check_processors_restored, group_rollout,
    worst_naive_difference,
)
from flux_helpers import make_batch


def test_capture_leaves_the_rollout_identical(backbone):
    batch = make_batch(2, seed=1)
    G, K, L = 2, 3, 3
    plain = group_rollout(backbone, batch, G, K)
    with backbone.capture_attention(L) as maps:
        captured = group_rollout(backbone, batch, G, K)
    assert torch.equal(plain, captured)
    check_capture_maps(maps, plain, 2 * G, K, L)  # one per (forward, layer)


@pytest.mark.parametrize("budget", [None, 1])
def test_captured_probabilities_equal_a_naive_full_softmax(backbone, monkeypatch, budget):
    """Every block (2 dual- and 2 single-stream): the text→target-image block of the joint softmax, restricted to the
    target keys, padding text rows dropped, heads then text tokens averaged, recomputed from the q, k the default
    processors hand to the attention kernel. ``budget=1``: one row per capture chunk."""
    from diffusers.models.transformers import transformer_flux
    from editrl.diffusers import capture as attention

    if budget is not None:
        monkeypatch.setattr(attention, "SCORE_BUDGET", budget)

    n_layers = len(backbone.transformer.transformer_blocks) + len(backbone.transformer.single_transformer_blocks)
    cond, N, maps, seen = capture_and_spy(backbone, make_batch(2, seed=2), n_layers, monkeypatch, transformer_flux)
    assert len(seen) == n_layers

    real = cond.text_mask
    assert (~real).any() and real.any()  # the instructions are padded: padding must be excluded
    worst = worst_naive_difference(seen, maps, cond.prompt_embeds.shape[1], N, real)  # real text tokens averaged
    assert worst < 1e-6


def test_processors_are_restored(backbone):
    def inside(transformer):
        assert sum(type(p).__name__ == "FluxCaptureAttnProcessor" for p in transformer.attn_processors.values()) == 2
        assert type(transformer.single_transformer_blocks[-1].attn.processor).__name__ == "FluxCaptureAttnProcessor"
        assert type(transformer.transformer_blocks[-1].attn.processor).__name__ == "FluxAttnProcessor"

    check_processors_restored(backbone, 2, inside, too_many=99)


def test_capture_under_gradient_checkpointing_records_each_forward_once(tiny_dir):
    """The backward pass re-runs checkpointed blocks; those re-runs must not add records. LoRA still gets gradients."""
    from flux_helpers import make_backbone

    bb = make_backbone(tiny_dir, gradient_checkpointing=True)
    maps, lora = capture_with_checkpointing(bb, make_batch(1))
    assert len(maps) == 2
    grads = [p.grad for p in lora.trainable_parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for n, p in bb.transformer.named_parameters() if "lora_" not in n)
