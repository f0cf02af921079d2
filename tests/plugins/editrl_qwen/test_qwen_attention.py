"""Attention capture on Qwen-Image-Edit: rollouts unchanged, maps equal a naive softmax over the same q/k (target keys,
instruction tokens), only the conditional branch when guided, processors restored."""

from __future__ import annotations

import pytest
import torch
from diffusers_support import (
    capture_and_spy, capture_with_checkpointing, check_capture_maps, check_processors_restored, group_rollout,
    worst_naive_difference,
)
from qwen_helpers import make_backbone, make_batch


@pytest.mark.parametrize("guided", [False, True])
def test_capture_leaves_the_rollout_identical(backbone, plus_backbone, guided):
    bb = plus_backbone if guided else backbone
    batch = make_batch(2, 64, 64, seed=1)
    G, K, L = 2, 3, 2
    plain = group_rollout(bb, batch, G, K)
    with bb.capture_attention(L) as maps:
        captured = group_rollout(bb, batch, G, K)
    assert torch.equal(plain, captured)
    check_capture_maps(maps, plain, 2 * G, K, L)  # one per (forward, layer): the negative pass is never recorded


def test_captured_maps_equal_a_naive_softmax_over_the_same_q_k(plus_backbone, monkeypatch):
    """Both blocks, guided: recompute from the q, k the default processor hands to the attention kernel in the
    conditional pass: scores over the target keys [T, T + N) only (not the reference keys), softmax, heads averaged,
    then instruction-token rows averaged (template, vision and padding rows weigh 0)."""
    from diffusers.models.transformers import transformer_qwenimage

    bb = plus_backbone
    n_layers = len(bb.transformer.transformer_blocks)
    cond, N, maps, seen = capture_and_spy(bb, make_batch(2, 64, 64, seed=2), n_layers, monkeypatch, transformer_qwenimage)
    assert len(seen) == 2 * n_layers  # default processors: the conditional pass (n_layers calls), then the negative one

    T = cond.prompt_embeds.shape[1]
    instr = cond.instruction_mask  # [2, T]
    assert instr.any(1).all() and (instr.sum(1) < T).all() and cond.ref_latents.shape[1] > 0
    worst = worst_naive_difference(seen[:n_layers], maps, T, N, instr)  # instruction tokens averaged
    assert worst < 1e-5


def test_processors_are_restored_and_bounds_checked(backbone):
    def inside(transformer):
        names = [type(p).__name__ for p in transformer.attn_processors.values()]
        assert names == ["QwenDoubleStreamAttnProcessor2_0", "QwenCaptureAttnProcessor"]  # the last block only

    check_processors_restored(backbone, 1, inside, too_many=3)


def test_capture_under_gradient_checkpointing_records_each_forward_once(edit_dir):
    """The backward re-runs checkpointed blocks; those re-runs add no records. LoRA still gets gradients."""
    bb = make_backbone(edit_dir, gradient_checkpointing=True, cfg="all")
    maps, _ = capture_with_checkpointing(bb, make_batch(1, 64, 64))
    assert len(maps) == 2
    grads = {n: p.grad for n, p in bb.transformer.named_parameters() if "lora_" in n}
    # the last block's text output is discarded by the transformer: only its to_add_out gets no gradient
    assert {n for n, g in grads.items() if g is None} == {f"transformer_blocks.1.attn.to_add_out.lora_{x}.default.weight"
                                                          for x in "AB"}
    assert any(g.abs().sum() > 0 for g in grads.values() if g is not None)
    assert all(p.grad is None for n, p in bb.transformer.named_parameters() if "lora_" not in n)
