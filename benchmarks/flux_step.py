"""Cost of one RC-GRPO / Neighbor-GRPO training step on a FLUX.1-sized Kontext transformer, against its bare passes.

A FLUX.1 Kontext-dev-sized ``FluxTransformer2DModel`` (19 dual + 38 single blocks, width 3072, 24 heads × 128,
guidance embedding) is built with **random weights in bf16 directly on the GPU** (no download, no access needed),
wrapped in editrl's ``flux_kontext`` backbone (``FluxKontext.from_components``) with gradient checkpointing, and given
LoRA rank 32 on the attention projections through the engine's ``LoraController``. At 512² (1024 target + 1024
reference tokens, 512 T5 tokens) with G = 12 candidates, K = 8 Euler steps and B = 4 anchors per group it times:

1. the **rollout**: ``editrl.engine.rollout.integrate`` over the group, i.e. G·K no-grad forwards (K calls of batch
   G·N), optionally with attention capture of the last L layers on (RC-GRPO's ACD reward);
2. the **training passes**: the real ``grpo_clip`` optimiser with the ``masked`` (RC-GRPO) leaping policy over the
   stored states, i.e. B·K forward+backward passes (K chunks of batch B·N), then one AdamW step on the LoRA weights;
3. the same transformer passes **alone**: pre-packed inputs straight into the transformer (K no-grad calls of batch
   G·N; K forward+backward calls of batch B·N), no backbone, solver, policy or optimiser around them;

and prints peak GPU memory and the ratio (rollout + training step) / (transformer passes alone), target ≤ 1.15.

What is *not* in the step timed here (measured on the side or left out): the condition encoders (T5-XXL and CLIP run
once per example per step; with random weights they would only add their own forward), the VAE decode of the G
candidates (timed separately with a random FLUX-sized VAE, ``decode`` line) and the rewards (EditScore is a VLM
judge outside editrl). The transformer is driven through editrl's backbone, rollout and optimiser code, not through
``Trainer.train_step``: the trainer needs a loadable model folder and a 512² dataset, and this script must run
without downloading anything. Random weights give the same cost as the real ones (the cost does not depend on the
values).

    python benchmarks/flux_step.py                         # needs a CUDA GPU with ≥ 48 GB (80 GB recommended)
    python benchmarks/flux_step.py --capture-layers 4      # rollout with ACD attention capture on
    python benchmarks/flux_step.py --out benchmarks/results/flux_step_h100.json
    python benchmarks/flux_step.py --tiny --device cpu     # smoke test of this script with the tiny model
    python benchmarks/flux_step.py --compare-cache         # peak memory with and without the condition cache

Peak memory with and without the condition cache (``--encoders``): ``resident`` adds random T5-XXL (4.8 B) and CLIP-L
text encoders on the GPU, as a run without the cache holds them (``offload_encoders`` off); ``cached`` also drops the
VAE's encoder, as a run whose every condition is in the disk cache loads neither (its decoder stays). The encoders'
own forward, once per example per step without the cache, is not in the timed step (its activations are small next
to the step's). ``--compare-cache`` runs this script once per mode in a fresh process (so that one's memory does not
carry into the other's peak) and prints both peaks and their difference.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))  # until `pip install -e .` has editrl_flux
import step_timing  # noqa: E402  (next to this script)

FLUX_TRANSFORMER = dict(
    patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128, num_attention_heads=24,
    joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=(16, 56, 56),
)
FLUX_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
    use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611,
)
TINY_TRANSFORMER = dict(
    patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=16, num_attention_heads=2,
    joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 4, 8),
)
#: T5-XXL's encoder (text_encoder_2 of FLUX.1) and CLIP-L's text model (text_encoder), for ``--encoders resident``.
T5_XXL = dict(vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24,
              feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              max_position_embeddings=77, projection_dim=768)
TINY_T5 = dict(vocab_size=512, d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2, feed_forward_proj="relu",
               relative_attention_num_buckets=8)
TINY_CLIP = dict(vocab_size=514, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=77, projection_dim=32, bos_token_id=0, eos_token_id=1, pad_token_id=1)
TINY_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
    use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035,
)


def build(args, device: torch.device):
    """Random FLUX-sized (or tiny) transformer and VAE in the run dtype, made on the device; the backbone around them."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from editrl_flux import FluxKontext, FluxKontextConfig
    from editrl_flux.tiny import KONTEXT_SCHEDULER_CONFIG

    transformer, vae = step_timing.random_modules(args.dtype, device, lambda: (
        FluxTransformer2DModel(**(TINY_TRANSFORMER if args.tiny else FLUX_TRANSFORMER)),
        AutoencoderKL(**(TINY_VAE if args.tiny else FLUX_VAE)),
    ))
    step_timing.damp_(transformer, keep=("x_embedder", "context_embedder"))  # 57 blocks
    config = FluxKontextConfig(dtype=args.dtype, gradient_checkpointing=not args.no_checkpointing, vae_batch_size=4)
    scheduler = FlowMatchEulerDiscreteScheduler(**KONTEXT_SCHEDULER_CONFIG)
    encoders = {}
    if args.encoders == "resident":
        from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

        text_encoder, text_encoder_2 = step_timing.random_modules(args.dtype, device, lambda: (
            CLIPTextModel(CLIPTextConfig(**(TINY_CLIP if args.tiny else CLIP_L))),
            T5EncoderModel(T5Config(**(TINY_T5 if args.tiny else T5_XXL))),
        ))
        encoders = dict(text_encoder=text_encoder.eval(), text_encoder_2=text_encoder_2.eval())
    elif args.encoders == "cached":
        vae.encoder = torch.nn.Module()  # what `load(device, encoders=False)` leaves of the VAE
    backbone = FluxKontext.from_components(config, device, transformer=transformer, scheduler=scheduler, vae=vae,
                                           **encoders)
    return backbone, sum(p.numel() for p in transformer.parameters())


def held_bytes(backbone) -> int:
    """Bytes of the parameters of the VAE and the text encoders the backbone holds (the transformer aside)."""
    modules = [getattr(backbone, n, None) for n in ("vae", "text_encoder", "text_encoder_2")]
    return sum(p.numel() * p.element_size() for m in modules if m is not None for p in m.parameters())


def compare_cache(argv: list[str]) -> None:
    """This script once per ``--encoders`` mode, each in its own process; both peaks and the bytes left out."""
    argv = [a for a in argv if a != "--compare-cache"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("resident", "cached"):
            out = Path(tmp) / f"{mode}.json"
            subprocess.run([sys.executable, __file__, *argv, "--encoders", mode, "--out", str(out)], check=True)
            results[mode] = json.loads(out.read_text())
    peak = {m: r["medians_s"].get("peak_step_gib", float("nan")) for m, r in results.items()}
    held = {m: r["held_encoder_bytes"] for m, r in results.items()}
    print(f"condition cache: peak GPU memory in the step {peak['resident']:.2f} GiB without it (encoders resident), "
          f"{peak['cached']:.2f} GiB with it ({peak['resident'] - peak['cached']:+.2f} GiB saved); VAE and text-encoder "
          f"parameters held {held['resident'] / 1e6:.3f} MB → {held['cached'] / 1e6:.3f} MB")


def random_condition(backbone, n: int, h: int, w: int, text_tokens: int, real_tokens: int, device):
    """A FluxCondition as ``encode_condition`` makes it (shapes and dtypes), with random T5/CLIP/reference tensors."""
    from editrl_flux.backbone import FluxCondition, grid_ids

    cfg = backbone.transformer.config
    dtype = backbone.transformer.dtype
    rand = step_timing.random_tensors(dtype, device)
    mask = torch.zeros(n, text_tokens, dtype=torch.bool)
    mask[:, :real_tokens] = True
    return FluxCondition(
        prompt_embeds=rand(n, text_tokens, cfg.joint_attention_dim),
        pooled=rand(n, cfg.pooled_projection_dim),
        text_mask=mask.to(device),
        ref_latents=rand(n, (h // 2) * (w // 2), cfg.in_channels),  # reference at the target's size
        guidance=torch.full([n], 2.5, device=device, dtype=torch.float32),
        txt_ids=torch.zeros(text_tokens, 3, device=device, dtype=dtype),
        img_ids=torch.cat([grid_ids(h // 2, w // 2, 0.0, device, dtype), grid_ids(h // 2, w // 2, 1.0, device, dtype)]),
        grid=(h, w),
    )


def alone_inputs(rep, rows: int) -> dict:
    """The transformer's own arguments for the bare passes (besides the random latents and the timestep)."""
    return dict(
        guidance=rep.guidance, pooled_projections=rep.pooled, encoder_hidden_states=rep.prompt_embeds,
        txt_ids=rep.txt_ids, img_ids=rep.img_ids, joint_attention_kwargs={},
    )


def main() -> None:
    parser = step_timing.parser(__doc__, text_tokens=512, text_help="T5 sequence (max_sequence_length)")
    parser.add_argument("--encoders", choices=["none", "resident", "cached"], default="none",
                        help="none: the VAE only (as before); resident: + T5-XXL and CLIP-L on the device (no cache); "
                             "cached: the VAE decoder only (every condition cached)")
    parser.add_argument("--compare-cache", action="store_true", help="run resident and cached, print both peaks")
    args = parser.parse_args()
    if args.compare_cache:
        compare_cache(sys.argv[1:])
        return
    device = step_timing.require_device(args, "flux_step.py", "FLUX.1-sized", 48)
    backbone, n_params = build(args, device)
    held = held_bytes(backbone)
    print(f"encoders: {args.encoders}; VAE and text-encoder parameters held: {held / 1e6:.3f} MB")
    step_timing.run(
        args, backbone, n_params,
        lambda n, h, w: random_condition(backbone, n, h, w, args.text_tokens, min(40, args.text_tokens), device),
        alone_inputs,
        tokens=lambda h, w: f"{h // 2 * (w // 2)} target + {h // 2 * (w // 2)} reference + {args.text_tokens} text tokens",
        vae="FLUX",
    )
    if args.out:  # what --compare-cache reads besides the peak
        report = json.loads(args.out.read_text())
        args.out.write_text(json.dumps({**report, "encoders": args.encoders, "held_encoder_bytes": held}, indent=2))


if __name__ == "__main__":
    main()
