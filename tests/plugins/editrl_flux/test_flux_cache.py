"""FLUX.1 Kontext through the condition cache, on the tiny random pipeline: a rollout from cached conditions (read by a
backbone loaded without T5, CLIP and the VAE encoder) is bit-identical in fp32 to one that encodes; the sequence
length, the resolution and the encoder files are in the key; `editrl data encode` then `editrl run` trains without
loading an encoder and says how many bytes that left out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from diffusers_support import run_keeping_trainer
from flux_helpers import MAX_SEQ, euler, make_backbone, make_batch

from editrl.cache import ConditionCache, DiskStore, backbone_key, cached_condition
from editrl.cache.fill import fill
from editrl.engine.rollout import integrate
from editrl.interfaces import EditBatch, EditExample

REPO = Path(__file__).resolve().parents[3]
RC_GRPO = REPO / "recipes" / "rc_grpo.yaml"


def _examples(n: int) -> list[EditExample]:
    batch = make_batch(n)
    return [EditExample(i, s, t) for i, s, t in zip(batch.ids, batch.source, batch.instructions)]


def _config(tiny_dir, **overrides):
    from editrl_flux import FluxKontext

    settings = dict(model=str(tiny_dir), dtype="fp32", max_sequence_length=MAX_SEQ, gradient_checkpointing=False)
    return FluxKontext, FluxKontext.Config(**{**settings, **overrides})


def _encoder_bytes(backbone) -> int:
    """Measured: the bytes of every parameter of T5, CLIP and the VAE's encoding half of a loaded backbone."""
    whole = [p for m in (backbone.text_encoder, backbone.text_encoder_2) for p in m.parameters()]
    half = [p for n, p in backbone.vae.named_parameters() if n.startswith(("encoder.", "quant_conv."))]
    return sum(p.numel() * p.element_size() for p in whole + half)


def test_cached_and_uncached_rollouts_are_bit_identical(tiny_dir, tmp_path):
    # vae_batch_size=1: one VAE call per image, so an encoding does not depend on which examples shared its batch
    # (batched convolutions round differently); T5 and CLIP are row-independent at these sizes.
    encoder = make_backbone(tiny_dir, vae_batch_size=1)
    key = backbone_key(encoder)
    store = DiskStore(tmp_path, key, encoder.condition_class)
    examples = _examples(5)
    counts = fill(encoder, lambda: None, store, key, examples, batch_size=3)  # chunks {0, 1, 2} and {3, 4}
    assert counts.encoded == 5

    cls, config = _config(tiny_dir, vae_batch_size=1, condition_cache="disk")
    bare = cls(config)
    bare.load(torch.device("cpu"), encoders=False)
    assert bare.text_encoder is None and bare.text_encoder_2 is None and not list(bare.vae.encoder.parameters())
    assert bare.encoder_bytes() == _encoder_bytes(encoder) > 0  # from the file headers = measured on the loaded one
    bare.condition_cache = ConditionCache(bare, key, store, encoders_loaded=False)

    batch = EditBatch.collate([examples[3], examples[1]])  # a composition never encoded together
    G = 2
    shape = encoder.latent_shape(batch)
    x_T = torch.randn(len(batch) * G, *shape, generator=torch.Generator().manual_seed(3))  # [N·G, C, h, w]
    sigmas = encoder.sigmas(2, shape)
    fresh, _ = integrate(encoder, euler(2), x_T, encoder.encode_condition(batch).repeat_interleave(G), sigmas)
    cond = cached_condition(bare, batch)
    cached, _ = integrate(bare, euler(2), x_T, cond.repeat_interleave(G), sigmas)
    assert cached.dtype == torch.float32 and torch.equal(cached, fresh)
    assert torch.equal(bare.decode(cached), encoder.decode(fresh))  # the decoder stayed
    assert bare.condition_cache.hits == 2 and bare.condition_cache.encoder_calls == 0


def test_sequence_length_resolution_and_encoder_files_are_in_the_key(tiny_dir, tmp_path):
    def key(folder=tiny_dir, **overrides):
        cls, config = _config(folder, **overrides)
        return backbone_key(cls(config))  # from the configs and file stats: nothing is loaded

    base = key()
    assert key() == base
    assert key(max_sequence_length=2 * MAX_SEQ) != base
    assert key(resolution=64) != base
    assert key(guidance=3.0) != base
    assert key(vae_batch_size=2) == base and key(offload_encoders=True) == base  # placement, not values
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    before = key(copy)
    weights = next((copy / "text_encoder_2").glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # rewritten T5 weights
    assert key(copy) != before


def _tiny_overrides(tiny_dir: Path, cache: Path) -> list[str]:
    return [
        "dataset={type: toy_shapes, train_size: 3, eval_size: 3}", "rewards.0={type: cocoedit_similarity, weight: 1.0}",
        f"backbone.model={tiny_dir}", "backbone.dtype=fp32", f"backbone.max_sequence_length={MAX_SEQ}",
        "backbone.condition_cache=disk", f"backbone.condition_cache_dir={cache}",
        "exploration.group_size=3", "solver.steps=2", "optimizer.anchors=2", "train.steps=2", "train.batch_size=1",
        "train.device=cpu", "train.save_every=0", "eval.at_end=false",
    ]


def test_encode_then_run_loads_no_encoder(cli, tiny_dir, tmp_path, monkeypatch):
    overrides = _tiny_overrides(tiny_dir, tmp_path / "cache")
    encoded = cli("data", "encode", RC_GRPO, *overrides)
    assert encoded.exit_code == 0, encoded.output
    assert "train: 3 encoded, 0 already cached" in encoded.output
    result, trainer = run_keeping_trainer(cli, monkeypatch, "run", RC_GRPO, *overrides, f"output_dir={tmp_path / 'run'}")
    backbone = trainer.c.backbone
    assert backbone.text_encoder is None and backbone.text_encoder_2 is None
    assert backbone.condition_cache.encoder_calls == 0 and backbone.condition_cache.hits == 2
    assert "all 3 train cached; encoders not loaded: 233.32 kB of encoder parameters not resident" in result.output
