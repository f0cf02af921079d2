"""The flux_kontext backbone reproduces FluxKontextPipeline: schedule, rollout, decode; encoders run once per example."""

from __future__ import annotations

import math
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from diffusers_support import counting_hook, encode_and_roll
from flux_helpers import euler, make_batch, pipeline_rollout

from editrl.engine.rollout import integrate
from editrl.plugin_manager import build_registry, get_plugin_manager


def test_registered_through_the_plugin_hook():
    installed = any(e.value == "editrl_flux" for e in entry_points(group="editrl"))
    registry = build_registry(get_plugin_manager(extra_modules=[] if installed else ["editrl_flux"]))
    cls = registry.get("backbone", "flux_kontext")
    assert "attention" in cls.capabilities
    cfg = cls.Config()
    assert cfg.model == "black-forest-labs/FLUX.1-Kontext-dev" and cfg.resolution is None and cfg.guidance == 2.5
    assert "attn.to_q" in cls.default_lora_targets


def test_sigmas_follow_the_kontext_schedule(backbone):
    # 512² → 64×64 latent grid → 1024 target tokens: mu = 0.5 + 0.65·(1024 − 256)/3840 = 0.63
    K = 8
    sig = backbone.sigmas(K, (16, 64, 64))
    assert sig.dtype == torch.float32 and sig.shape == (K + 1,) and sig[-1] == 0
    mu = 0.5 + (1.15 - 0.5) * (1024 - 256) / (4096 - 256)
    base = np.linspace(1.0, 1 / K, K)
    expected = math.e**mu / (math.e**mu + (1 / base - 1))
    assert torch.allclose(sig[:-1], torch.tensor(expected, dtype=torch.float32), atol=1e-6)
    # the shift depends on the target tokens only: 1024² has mu = 1.15
    assert (backbone.sigmas(K, (16, 128, 128))[1:-1] > sig[1:-1]).all()


def test_rollout_equals_the_pipeline(backbone, pipe):
    """editrl's Euler rollout == pipe(..., latents=packed x_T, output_type="latent"), every intermediate state too."""
    from editrl_flux.backbone import pack

    batch = make_batch(1)
    G, K = 3, 4
    shape = backbone.latent_shape(batch)
    x_T = torch.randn(G, *shape, generator=torch.Generator().manual_seed(1))
    cond = backbone.encode_condition(batch)
    final, states = integrate(
        backbone, euler(K), x_T, cond.repeat_interleave(G), backbone.sigmas(K, shape), keep_states=True
    )
    seen = []
    ref = pipeline_rollout(
        pipe, batch.source[0], batch.instructions[0], x_T, K,
        callback_on_step_end=lambda p, i, t, kw: seen.append(kw["latents"].clone()) or {},
    )
    diffs = [float((pack(states[k + 1]) - seen[k]).abs().max()) for k in range(K)]
    final_diff = float((pack(final) - ref).abs().max())
    print(f"per-step max|diff| {diffs}, final {final_diff}")
    assert final_diff <= 1e-5 and max(diffs) <= 1e-5
    assert final.abs().max() > 0.1  # a real rollout, not zeros


def test_rollout_of_a_batch_equals_the_pipeline_per_example(backbone, pipe):
    """Two examples with different sources and instructions, a non-square size (packing order), one call."""
    from editrl_flux.backbone import pack

    batch = make_batch(2, height=32, width=48, seed=3)
    G, K = 2, 3
    shape = backbone.latent_shape(batch)
    assert shape == (4, 16, 24)
    x_T = torch.randn(2 * G, *shape, generator=torch.Generator().manual_seed(2))
    cond = backbone.encode_condition(batch)
    final, _ = integrate(backbone, euler(K), x_T, cond.repeat_interleave(G), backbone.sigmas(K, shape))
    for n in range(2):
        rows = slice(n * G, (n + 1) * G)
        ref = pipeline_rollout(pipe, batch.source[n], batch.instructions[n], x_T[rows], K)
        diff = float((pack(final[rows]) - ref).abs().max())
        print(f"example {n}: max|diff| {diff}")
        assert diff <= 1e-5  # batched vs per-example matmul shapes: ~1e-7 on CPU


def test_decode_equals_the_pipeline_images(backbone, pipe):
    from editrl_flux.backbone import pack

    batch = make_batch(1, seed=5)
    shape = backbone.latent_shape(batch)
    x_T = torch.randn(2, *shape, generator=torch.Generator().manual_seed(4))
    cond = backbone.encode_condition(batch).repeat_interleave(2)
    final, _ = integrate(backbone, euler(2), x_T, cond, backbone.sigmas(2, shape))
    images = backbone.decode(final)
    ref = pipeline_rollout(pipe, batch.source[0], batch.instructions[0], x_T, 2, output_type="pt")
    assert images.shape == (2, 3, 32, 32) and images.dtype == torch.float32
    diff = float((images - ref).abs().max())
    print(f"decode vs pipeline images: max|diff| {diff}")
    assert diff <= 1e-5


def test_encode_images_is_the_reference_encoding(backbone):
    from editrl_flux.backbone import pack

    batch = make_batch(2, seed=6)
    latents = backbone.encode_images(batch.source)
    assert latents.shape == (2, *backbone.latent_shape(batch))
    cond = backbone.encode_condition(batch)
    assert torch.equal(pack(latents), cond.ref_latents)


def test_working_resolution_resizes_sources(tiny_dir):
    from flux_helpers import make_backbone

    bb = make_backbone(tiny_dir, resolution=16)
    batch = make_batch(1, height=32, width=64)
    assert bb.working_size(32, 64) == (8, 20)  # area 16², aspect 2 → 11.3×22.6, snapped to multiples of 4
    shape = bb.latent_shape(batch)
    assert shape == (4, 4, 10)
    cond = bb.encode_condition(batch)
    assert cond.ref_latents.shape[1] == 2 * 5 and cond.img_ids.shape[0] == 2 * 10
    x = torch.randn(2, *shape)
    assert bb.velocity(x, torch.full((2,), 0.5), cond.repeat_interleave(2)).shape == x.shape
    assert bb.decode(x).shape == (2, 3, 8, 20)


def test_condition_is_encoded_once_per_example(backbone):
    """One training step's rollout: the T5, CLIP and VAE encoders see each example once, not once per candidate."""
    seen = {"t5": 0, "clip": 0, "vae": 0}
    hooks = [
        backbone.text_encoder_2.register_forward_pre_hook(counting_hook(seen, "t5"), with_kwargs=True),
        backbone.text_encoder.register_forward_pre_hook(counting_hook(seen, "clip"), with_kwargs=True),
        backbone.vae.encoder.register_forward_pre_hook(counting_hook(seen, "vae"), with_kwargs=True),
    ]
    N = 2
    cond, group = encode_and_roll(backbone, make_batch(N, seed=7), G=4, K=3, hooks=hooks)  # the group repeats rows
    assert seen == {"t5": N, "clip": N, "vae": N}
    # the group shares the encoding: position ids are not repeated
    assert group.txt_ids is cond.txt_ids and group.img_ids is cond.img_ids


def test_token_mask_follows_the_packing_order(backbone):
    from editrl_flux.backbone import pack

    batch = make_batch(1, height=32, width=48, mask=True)
    shape = backbone.latent_shape(batch)  # (4, 16, 24) → 8×12 tokens
    tokens = backbone.token_mask(batch.mask, shape)
    assert tokens.shape == (1, 8 * 12)
    # a token is edit iff one of its 2×2 latent cells is (max-pool rule), in pack() order
    cells = backbone.latent_mask(batch.mask, shape).expand(-1, shape[0], -1, -1)
    assert torch.equal(tokens, pack(cells).amax(dim=-1))
    one = torch.zeros(1, 1, 32, 48)
    one[..., 9, 30] = 1  # pixel (9, 30) → latent (4, 15) → token (2, 7)
    assert backbone.token_mask(one, shape).nonzero()[:, 1].tolist() == [2 * 12 + 7]


@pytest.mark.parametrize("rows", [1, 3])
def test_velocity_keeps_the_dtype_of_x_and_checks_rows(backbone, rows):
    batch = make_batch(1)
    shape = backbone.latent_shape(batch)
    cond = backbone.encode_condition(batch).repeat_interleave(rows)
    v = backbone.velocity(torch.randn(rows, *shape, dtype=torch.float64), torch.full((rows,), 0.7), cond)
    assert v.dtype == torch.float64 and v.shape == (rows, *shape)
    with pytest.raises(ValueError, match="rows"):
        backbone.velocity(torch.randn(rows + 1, *shape), torch.full((rows + 1,), 0.7), cond)


def test_from_components_wraps_a_pipeline_in_memory(backbone, pipe):
    from editrl_flux import FluxKontext, FluxKontextConfig

    config = FluxKontextConfig(dtype="fp32", max_sequence_length=16, gradient_checkpointing=False)
    wrapped = FluxKontext.from_components(config, "cpu", **pipe.components)
    batch = make_batch(1, seed=8)
    shape = wrapped.latent_shape(batch)
    x, sigma = torch.randn(2, *shape), torch.full((2,), 0.8)
    v = wrapped.velocity(x, sigma, wrapped.encode_condition(batch).repeat_interleave(2))
    assert torch.equal(v, backbone.velocity(x, sigma, backbone.encode_condition(batch).repeat_interleave(2)))
