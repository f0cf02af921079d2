"""Qwen-Image-Edit through the condition cache: rows of different prompt lengths are stored unpadded and joined back
exactly as one ``encode_condition`` call pads them (with and without true CFG's negative prompt), and the backbone
loaded without its encoders holds no Qwen2.5-VL and no VAE encoder but still decodes."""

from __future__ import annotations

import dataclasses

import torch
from qwen_helpers import make_backbone, make_batch


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return a == b


def _check_round_trip(bb, batch):
    cond = bb.encode_condition(batch)
    rows = cond.split()
    assert all(r.prompt_mask is None for r in rows)  # each row alone is unpadded
    lengths = [r.prompt_embeds.shape[1] for r in rows]
    assert len(set(lengths)) > 1, lengths  # the instructions differ in length: the batch was padded
    joined = type(cond).collate(rows)
    for f in dataclasses.fields(cond):
        assert _same(getattr(joined, f.name), getattr(cond, f.name)), f.name
    # a subset joins as that subset was encoded: padded to its own longest row only
    sub = type(cond).collate([rows[2], rows[0]])
    direct = bb.encode_condition(make_batch(3)).index(torch.tensor([2, 0]))
    assert sub.prompt_embeds.shape[1] == max(lengths[2], lengths[0]) <= direct.prompt_embeds.shape[1]


def test_rows_join_back_as_the_batch_encoded_them(backbone):
    _check_round_trip(backbone, make_batch(3))


def test_guided_rows_keep_their_negative_prompt(plus_backbone):
    _check_round_trip(plus_backbone, make_batch(3))
    assert plus_backbone.encode_condition(make_batch(3)).split()[0].negative_embeds is not None


def test_without_encoders_no_vl_encoder_and_no_vae_encoder_are_loaded(edit_dir, backbone):
    from editrl_qwen import QwenImageEdit

    bare = QwenImageEdit(backbone.config)
    bare.load(torch.device("cpu"), encoders=False)
    assert bare.text_encoder is None and not list(bare.vae.encoder.parameters())
    assert not list(bare.vae.quant_conv.parameters()) and bare.vae.decoder is not None
    # exactly the parameters left out: the VL encoder and the VAE's encoding half of the full backbone
    full = sum(p.numel() * p.element_size() for p in backbone.text_encoder.parameters())
    half = [p for n, p in backbone.vae.named_parameters() if n.startswith(("encoder.", "quant_conv."))]
    full += sum(p.numel() * p.element_size() for p in half)
    assert bare.encoder_bytes() == full
    latents = torch.randn(1, 4, 8, 8)
    assert torch.equal(bare.decode(latents), backbone.decode(latents))
    try:
        bare.encode_condition(make_batch(1))
    except RuntimeError as exc:
        assert "without its encoders" in str(exc)
    else:
        raise AssertionError("encode_condition worked without encoders")
