"""Attention capture: rollouts unchanged, probabilities equal a naive full softmax, processors restored."""

from __future__ import annotations

import pytest
import torch
from flux_helpers import euler, make_batch

from editrl.engine.rollout import integrate


def _rollout(backbone, batch, G=2, K=3, seed=0):
    shape = backbone.latent_shape(batch)
    x_T = torch.randn(len(batch) * G, *shape, generator=torch.Generator().manual_seed(seed))
    cond = backbone.encode_condition(batch).repeat_interleave(G)
    return integrate(backbone, euler(K), x_T, cond, backbone.sigmas(K, shape))[0]


def test_capture_leaves_the_rollout_identical(backbone):
    batch = make_batch(2, seed=1)
    G, K, L = 2, 3, 3
    plain = _rollout(backbone, batch, G, K)
    with backbone.capture_attention(L) as maps:
        captured = _rollout(backbone, batch, G, K)
    assert torch.equal(plain, captured)
    n_img = (plain.shape[-2] // 2) * (plain.shape[-1] // 2)
    assert len(maps) == K * L  # one per (forward, layer)
    for m in maps:
        assert m.shape == (2 * G, n_img) and m.dtype == torch.float32 and not m.requires_grad
        assert torch.allclose(m.sum(-1), torch.ones(2 * G), atol=1e-5)  # a distribution over target tokens


@pytest.mark.parametrize("budget", [None, 1])
def test_captured_probabilities_equal_a_naive_full_softmax(backbone, monkeypatch, budget):
    """Every block (2 dual- and 2 single-stream): the text→target-image block of the joint softmax, restricted to the
    target keys, padding text rows dropped, heads then text tokens averaged, recomputed from the q, k the default
    processors hand to the attention kernel. ``budget=1``: one row per capture chunk."""
    from diffusers.models.transformers import transformer_flux
    from editrl_flux import attention

    if budget is not None:
        monkeypatch.setattr(attention, "SCORE_BUDGET", budget)

    batch = make_batch(2, seed=2)
    shape = backbone.latent_shape(batch)
    cond = backbone.encode_condition(batch)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(3))
    sigma = torch.full((2,), 0.6)
    n_layers = len(backbone.transformer.transformer_blocks) + len(backbone.transformer.single_transformer_blocks)
    with backbone.capture_attention(n_layers) as maps:
        backbone.velocity(x, sigma, cond)
    assert len(maps) == n_layers

    seen = []
    original = transformer_flux.dispatch_attention_fn

    def spy(query, key, value, **kw):
        seen.append((query.detach().clone(), key.detach().clone()))
        return original(query, key, value, **kw)

    monkeypatch.setattr(transformer_flux, "dispatch_attention_fn", spy)
    backbone.velocity(x, sigma, cond)  # default processors
    assert len(seen) == n_layers

    T = cond.prompt_embeds.shape[1]
    N = (shape[1] // 2) * (shape[2] // 2)
    real = cond.text_mask
    assert (~real).any() and real.any()  # the instructions are padded: padding must be excluded
    worst = 0.0
    for (q, k), got in zip(seen, maps):
        S = q.shape[1]
        scores = torch.einsum("mshd,mthd->mhst", q.double(), k.double()) / q.shape[-1] ** 0.5  # [M, H, S, S] full
        allowed = torch.zeros(S, dtype=torch.bool)
        allowed[T : T + N] = True  # target-image keys only
        probs = scores.masked_fill(~allowed, float("-inf")).softmax(-1)[:, :, :T, T : T + N]  # text queries
        probs = probs.mean(1)  # heads → [M, T, N]
        expected = torch.stack([probs[m][real[m]].mean(0) for m in range(2)])  # real text tokens → [M, N]
        worst = max(worst, float((got.double() - expected).abs().max()))
    print(f"captured vs naive: max|diff| {worst:.2e}")
    assert worst < 1e-6


def test_processors_are_restored(backbone):
    before = dict(backbone.transformer.attn_processors)
    with pytest.raises(RuntimeError, match="boom"):
        with backbone.capture_attention(2):
            assert sum(type(p).__name__ == "FluxCaptureAttnProcessor" for p in backbone.transformer.attn_processors.values()) == 2
            assert type(backbone.transformer.single_transformer_blocks[-1].attn.processor).__name__ == "FluxCaptureAttnProcessor"
            assert type(backbone.transformer.transformer_blocks[-1].attn.processor).__name__ == "FluxAttnProcessor"
            raise RuntimeError("boom")
    after = backbone.transformer.attn_processors
    assert all(after[k] is v for k, v in before.items())
    with pytest.raises(ValueError, match="last_layers"):
        with backbone.capture_attention(99):
            pass


def test_capture_under_gradient_checkpointing_records_each_forward_once(tiny_dir):
    """The backward pass re-runs checkpointed blocks; those re-runs must not add records. LoRA still gets gradients."""
    from flux_helpers import make_backbone
    from peft import LoraConfig

    from editrl.engine.lora import LoraController

    bb = make_backbone(tiny_dir, gradient_checkpointing=True)
    lora = LoraController(bb.denoiser, LoraConfig(r=2, lora_alpha=2, target_modules=list(bb.default_lora_targets)))
    batch = make_batch(1)
    shape = bb.latent_shape(batch)
    cond = bb.encode_condition(batch).repeat_interleave(2)
    with bb.capture_attention(2) as maps:
        v = bb.velocity(torch.randn(2, *shape), torch.full((2,), 0.5), cond)
        v.square().mean().backward()
    assert len(maps) == 2
    grads = [p.grad for p in lora.trainable_parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for n, p in bb.transformer.named_parameters() if "lora_" not in n)
