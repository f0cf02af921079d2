"""The qwen_image_edit backbone reproduces QwenImageEdit(Plus)Pipeline, without and with true CFG; the encoders run
once per example per step; the instruction tokens are found by id."""

from __future__ import annotations

import math
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from diffusers_support import counting_hook, encode_and_roll
from qwen_helpers import SMALL_REFERENCE, euler, make_backbone, make_batch, pipeline_rollout, reference_area

from editrl.diffusers.packing import pack
from editrl.engine.rollout import integrate
from editrl.plugin_manager import build_registry, get_plugin_manager


def test_registered_through_the_plugin_hook():
    installed = any(e.value == "editrl_qwen" for e in entry_points(group="editrl"))
    registry = build_registry(get_plugin_manager(extra_modules=[] if installed else ["editrl_qwen"]))
    cls = registry.get("backbone", "qwen_image_edit")
    assert "attention" in cls.capabilities and "attn.add_q_proj" in cls.default_lora_targets
    cfg = cls.Config()
    assert cfg.model == "Qwen/Qwen-Image-Edit-2509" and cfg.cfg == "off" and cfg.true_cfg_scale == 4.0
    assert cfg.reference_resolution == 1024  # the pipelines' fixed ≈ 1 MP reference


def test_sigmas_follow_the_qwen_schedule(backbone):
    # 512² → 64×64 latent grid → N = 1024 target tokens, Qwen config (base 256 → 0.5, max 8192 → 0.9):
    # μ = 0.5 + 0.4·(1024 − 256)/(8192 − 256) = 0.53871; exponential shift s' = e^μ / (e^μ + 1/s − 1);
    # shift_terminal stretch: z = 1 − s', s'' = 1 − z / (z_last / (1 − 0.02)), so the last nonzero sigma is 0.02.
    K = 4
    sig = backbone.sigmas(K, (4, 64, 64))
    mu = 0.5 + 0.4 * (1024 - 256) / (8192 - 256)
    base = np.linspace(1.0, 1 / K, K)
    shifted = math.e**mu / (math.e**mu + (1 / base - 1))
    z = 1 - shifted
    expected = 1 - z / (z[-1] / (1 - 0.02))
    assert sig.dtype == torch.float32 and sig.shape == (K + 1,) and sig[-1] == 0
    assert torch.allclose(sig[:-1], torch.tensor(expected, dtype=torch.float32), atol=1e-6)
    assert abs(float(sig[-2]) - 0.02) < 1e-6


@pytest.mark.parametrize("plus", [False, True], ids=["edit", "plus_2511"])
@pytest.mark.parametrize("guided", [False, True], ids=["no_cfg", "true_cfg"])
def test_rollout_equals_the_pipeline(edit_dir, plus_dir, pipe, plus_pipe, plus, guided):
    """editrl's Euler rollout == pipe(..., latents=packed x_T, output_type="latent"), every state, both pipelines
    (Plus with the 2511 zero-timestep reference tokens), unguided and with true CFG 4 and a negative prompt."""
    bb = make_backbone(plus_dir if plus else edit_dir, cfg="all" if guided else "off", negative_prompt="blurry")
    batch = make_batch(1, 64, 96, seed=1)
    G, K = 2, 3
    shape = bb.latent_shape(batch)
    assert shape == (4, 8, 12)
    x_T = torch.randn(G, *shape, generator=torch.Generator().manual_seed(1))
    cond = bb.encode_condition(batch)
    final, states = integrate(bb, euler(K), x_T, cond.repeat_interleave(G), bb.sigmas(K, shape), keep_states=True)
    seen = []
    cfg = dict(true_cfg_scale=4.0, negative_prompt="blurry") if guided else dict(true_cfg_scale=1.0)
    with reference_area(SMALL_REFERENCE):
        ref = (plus_pipe if plus else pipe)(
            **_kwargs(batch, x_T, K, plus, cfg), output_type="latent",
            callback_on_step_end=lambda p, i, t, kw: seen.append(kw["latents"].clone()) or {},
        ).images
    diffs = [float((pack(states[k + 1]) - seen[k]).abs().max()) for k in range(K)]
    final_diff = float((pack(final) - ref).abs().max())
    print(f"per-step max|diff| {diffs}, final {final_diff}")
    assert final_diff <= 1e-5 and max(diffs) <= 1e-5
    assert final.abs().max() > 0.1


def _kwargs(batch, x_T, K, plus, cfg):
    from editrl_qwen.backbone import pipeline_kwargs

    return pipeline_kwargs(batch.source[0], batch.instructions[0], x_T, K, plus=plus, **cfg)


@pytest.mark.slow  # ≈ 15 s: the tiny VAE encodes the ≈ 1 MP reference twice (backbone and pipeline)
def test_rollout_at_the_pipelines_own_reference_size(plus_dir, plus_pipe):
    """No patching: the backbone's defaults (reference ≈ 1 MP, VL copy 384²) are the Plus pipeline's."""
    bb = make_backbone(plus_dir, reference_resolution=1024)
    batch = make_batch(1, 32, 48, seed=2)
    x_T = torch.randn(1, *bb.latent_shape(batch), generator=torch.Generator().manual_seed(2))
    cond = bb.encode_condition(batch)
    # aspect 1.5: calculate_dimensions(1024², 1.5) → w = round(√(1024²·1.5)/32)·32 = 1248, h = round(836.1/32)·32 = 832
    assert cond.img_shapes == ((1, 2, 3), (1, 832 // 16, 1248 // 16))  # target 32×48 → 4×6 latent → 2×3 tokens
    final, _ = integrate(bb, euler(2), x_T, cond, bb.sigmas(2, x_T.shape[1:]))
    ref = pipeline_rollout(plus_pipe, batch.source[0], batch.instructions[0], x_T, 2, true_cfg_scale=1.0)
    diff = float((pack(final) - ref).abs().max())
    print(f"default reference size: max|diff| {diff}")
    assert diff <= 1e-5


@pytest.mark.parametrize("plus", [False, True])
def test_default_sizes_are_the_pipelines(edit_dir, plus_dir, plus):
    """Unpatched, the VAE reference and the VL copy have the sizes the pipelines give them: the Edit pipeline's
    ``calculate_dimensions(1024 * 1024, …)`` for both; Plus: ``VAE_IMAGE_SIZE`` and ``CONDITION_IMAGE_SIZE``."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit as edit
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus_module

    bb = make_backbone(plus_dir if plus else edit_dir, reference_resolution=1024)
    condition, reference = bb.reference_sizes(300, 500)
    aspect = 500 / 300
    if plus:
        ref_w, ref_h = plus_module.calculate_dimensions(plus_module.VAE_IMAGE_SIZE, aspect)
        cond_w, cond_h = plus_module.calculate_dimensions(plus_module.CONDITION_IMAGE_SIZE, aspect)
    else:
        ref_w, ref_h, _ = edit.calculate_dimensions(1024 * 1024, aspect)
        cond_w, cond_h = ref_w, ref_h
    assert reference == (ref_h, ref_w) and condition == (cond_h, cond_w)
    # 1024² at aspect 5/3: w = round(√(1024²·5/3)/32)·32 = 1312, h = round(793.2/32)·32 = 800
    assert reference == (800, 1312)


def test_true_cfg_changes_the_velocity_and_rollouts_mode_guides_only_no_grad_passes(plus_dir, plus_backbone):
    batch = make_batch(1, 64, 64, seed=3)
    shape = plus_backbone.latent_shape(batch)
    x, sigma = torch.randn(2, *shape, generator=torch.Generator().manual_seed(3)), torch.full((2,), 0.7)
    cond = plus_backbone.encode_condition(batch).repeat_interleave(2)
    unguided = make_backbone(plus_dir, cfg="off")
    v_plain = unguided.velocity(x, sigma, unguided.encode_condition(batch).repeat_interleave(2))
    v_cfg = plus_backbone.velocity(x, sigma, cond)
    assert float((v_cfg - v_plain).abs().max()) > 1e-3
    # the norm rescale: per token, ‖v_cfg‖ = ‖v_cond‖ (the conditional pass is the unguided velocity)
    assert torch.allclose(pack(v_cfg).norm(dim=-1), pack(v_plain).norm(dim=-1), rtol=1e-4)
    rollouts = make_backbone(plus_dir, cfg="rollouts")
    cond_r = rollouts.encode_condition(batch).repeat_interleave(2)
    with torch.no_grad():
        assert torch.allclose(rollouts.velocity(x, sigma, cond_r), v_cfg, atol=1e-6)
    with torch.enable_grad():
        assert torch.allclose(rollouts.velocity(x, sigma, cond_r), v_plain, atol=1e-6)


def test_a_batch_equals_the_pipeline_per_example(backbone, pipe):
    """Two examples with instructions of different lengths: the text mask pads the shorter one."""
    batch = make_batch(2, 64, 64, seed=4)
    G, K = 2, 2
    shape = backbone.latent_shape(batch)
    x_T = torch.randn(2 * G, *shape, generator=torch.Generator().manual_seed(4))
    cond = backbone.encode_condition(batch)
    assert cond.prompt_mask is not None and not bool(cond.prompt_mask.all())
    final, _ = integrate(backbone, euler(K), x_T, cond.repeat_interleave(G), backbone.sigmas(K, shape))
    with reference_area(SMALL_REFERENCE):
        for n in range(2):
            rows = slice(n * G, (n + 1) * G)
            ref = pipeline_rollout(pipe, batch.source[n], batch.instructions[n], x_T[rows], K, true_cfg_scale=1.0)
            diff = float((pack(final[rows]) - ref).abs().max())
            print(f"example {n}: max|diff| {diff}")
            assert diff <= 1e-5


def test_decode_equals_the_pipeline_images(backbone, pipe):
    batch = make_batch(1, 64, 64, seed=5)
    shape = backbone.latent_shape(batch)
    x_T = torch.randn(2, *shape, generator=torch.Generator().manual_seed(5))
    final, _ = integrate(backbone, euler(2), x_T, backbone.encode_condition(batch).repeat_interleave(2),
                         backbone.sigmas(2, shape))
    images = backbone.decode(final)
    with reference_area(SMALL_REFERENCE):
        ref = pipeline_rollout(pipe, batch.source[0], batch.instructions[0], x_T, 2, true_cfg_scale=1.0, output_type="pt")
    assert images.shape == (2, 3, 64, 64) and images.dtype == torch.float32
    diff = float((images - ref).abs().max())
    print(f"decode vs pipeline images: max|diff| {diff}")
    assert diff <= 1e-5


def test_encode_images_is_the_reference_encoding_at_the_same_size(backbone):
    # a 64×64 source with reference side 64: calculate_dimensions(64², 1) = 64×64, so the VAE sees the same pixels
    batch = make_batch(2, 64, 64, seed=6)
    latents = backbone.encode_images(batch.source)
    assert latents.shape == (2, *backbone.latent_shape(batch))
    assert torch.allclose(pack(latents), backbone.encode_condition(batch).ref_latents, atol=1e-6)


@pytest.mark.parametrize("guided", [False, True])
def test_encoders_run_once_per_example_per_step(edit_dir, plus_backbone, backbone, guided):
    """One step's rollout: the VL encoder sees each source once (with the negative prompt in the same call when
    guided), the VAE encodes it once; never once per candidate or per solver step."""
    bb = plus_backbone if guided else backbone
    seen = {"calls": 0, "rows": 0, "images": 0, "vae": 0}

    def text_hook(module, args, kwargs):
        seen["calls"] += 1
        seen["rows"] += int(kwargs["input_ids"].shape[0])
        seen["images"] += int(kwargs["image_grid_thw"].shape[0])

    hooks = [
        bb.text_encoder.register_forward_pre_hook(text_hook, with_kwargs=True),
        bb.vae.encoder.register_forward_pre_hook(counting_hook(seen, "vae"), with_kwargs=True),
    ]
    N = 2
    cond, group = encode_and_roll(bb, make_batch(N, 64, 64, seed=7), G=3, K=3, hooks=hooks)  # the group repeats rows
    copies = 2 if guided else 1  # positive (+ negative) prompt of each example
    assert seen == {"calls": 1, "rows": copies * N, "images": copies * N, "vae": N}
    assert group.img_shapes is cond.img_shapes


@pytest.mark.parametrize("plus", [False, True])
def test_instruction_tokens_are_found_by_id(backbone, plus_backbone, plus):
    bb = plus_backbone if plus else backbone
    batch = make_batch(2, 64, 64, seed=8)
    cond = bb.encode_condition(batch)
    tok = bb.processor.tokenizer
    suffix = len(tok("<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False).input_ids)
    real = cond.prompt_mask if cond.prompt_mask is not None else torch.ones_like(cond.instruction_mask)
    for n, text in enumerate(batch.instructions):
        positions = cond.instruction_mask[n].nonzero().flatten()
        assert len(positions) == len(tok(text, add_special_tokens=False).input_ids)
        assert torch.equal(positions, torch.arange(int(positions[0]), int(positions[-1]) + 1))  # contiguous
        assert int(positions[-1]) == int(real[n].sum()) - 1 - suffix  # right before <|im_end|>\n<|im_start|>...


def test_instruction_mask_rule_on_hand_made_ids():
    from editrl_qwen.prompt import instruction_mask

    VS, VE, END = 7, 8, 9  # vision start / end, im_end
    ids = torch.tensor([1, VS, 5, VE, 2, VS, 5, VE, 3, 4, END, 6, END])
    # strictly between the LAST vision-end (index 7) and the next im_end (index 10): indices 8 and 9
    assert instruction_mask(ids, VE, END).nonzero().flatten().tolist() == [8, 9]


def test_token_mask_and_row_checks(backbone):
    batch = make_batch(1, 64, 96, mask=True)
    shape = backbone.latent_shape(batch)
    tokens = backbone.token_mask(batch.mask, shape)
    assert tokens.shape == (1, 4 * 6)
    cells = backbone.latent_mask(batch.mask, shape).expand(-1, shape[0], -1, -1)
    assert torch.equal(tokens, pack(cells).amax(dim=-1))
    cond = backbone.encode_condition(batch)
    v = backbone.velocity(torch.randn(1, *shape, dtype=torch.float64), torch.full((1,), 0.7), cond)
    assert v.dtype == torch.float64 and v.shape == (1, *shape)
    with pytest.raises(ValueError, match="rows"):
        backbone.velocity(torch.randn(2, *shape), torch.full((2,), 0.7), cond)
