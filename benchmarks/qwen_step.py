"""Cost of one RC-GRPO / Neighbor-GRPO training step on a Qwen-Image-sized transformer, against its bare passes.

A Qwen-Image(-Edit)-sized ``QwenImageTransformer2DModel`` (60 dual-stream blocks, width 3072, 24 heads × 128, text
width 3584; ``--zero-cond-t`` for the 2511 variant) is built with **random weights in bf16 directly on the GPU** (no
download), wrapped in editrl's ``qwen_image_edit`` backbone (``QwenImageEdit.from_components``) with gradient
checkpointing, and given LoRA rank 32 on the attention projections through the engine's ``LoraController``. At 512²
(1024 target tokens, the pipeline's ≈ 1 MP reference = 4096 tokens, ≈ 260 text tokens) with G = 12 candidates,
K = 8 Euler steps and B = 4 anchors per group it times:

1. the **rollout**: ``editrl.engine.rollout.integrate`` over the group, G·K no-grad velocities (K calls of batch G·N;
   two transformer passes each with ``--cfg``), optionally with attention capture of the last L layers (ACD);
2. the **training passes**: the real ``grpo_clip`` optimiser with the ``masked`` (RC-GRPO) leaping policy over the
   stored states, B·K forward+backward passes (K chunks of batch B·N), then one AdamW step on the LoRA weights;
3. the same transformer passes **alone**: pre-packed inputs straight into the transformer, no backbone, solver,
   policy or optimiser around them;

and prints peak GPU memory and the ratio (rollout + training step) / (transformer passes alone), target ≤ 1.15.

Not in the step timed here: the Qwen2.5-VL encoder (once per example per step), the VAE decode of the candidates
(timed on the side with a random Qwen-Image-sized VAE, ``decode`` line) and the rewards. As ``flux_step.py``, it
drives the backbone, rollout and optimiser code, not ``Trainer.train_step`` (which needs a model folder and data).
No GPU was lent when this was written: only ``--tiny --device cpu`` has been run (a smoke test of the code path).

    python benchmarks/qwen_step.py                         # needs a CUDA GPU with ≥ 64 GB (80 GB recommended)
    python benchmarks/qwen_step.py --capture-layers 4      # rollout with ACD attention capture on
    python benchmarks/qwen_step.py --cfg --reference-resolution 512 --out benchmarks/results/qwen_step_h100.json
    python benchmarks/qwen_step.py --tiny --device cpu     # smoke test of this script with the tiny model
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))  # until `pip install -e .` has editrl_qwen
import step_timing  # noqa: E402  (next to this script)

QWEN_TRANSFORMER = dict(
    patch_size=2, in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128, num_attention_heads=24,
    joint_attention_dim=3584, guidance_embeds=False, axes_dims_rope=(16, 56, 56),
)
QWEN_VAE = dict(base_dim=96, z_dim=16)  # AutoencoderKLQwenImage's defaults are Qwen-Image's VAE


def build(args, device: torch.device):
    """Random Qwen-Image-sized (or tiny) transformer and VAE in the run dtype, made on the device; the backbone."""
    from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel
    from editrl_qwen import QwenImageEdit, QwenImageEditConfig
    from editrl_qwen.tiny import QWEN_SCHEDULER_CONFIG, TINY_TRANSFORMER, TINY_VAE

    transformer, vae = step_timing.random_modules(args.dtype, device, lambda: (
        QwenImageTransformer2DModel(**(TINY_TRANSFORMER if args.tiny else QWEN_TRANSFORMER), zero_cond_t=args.zero_cond_t),
        AutoencoderKLQwenImage(**(TINY_VAE if args.tiny else QWEN_VAE)),
    ))
    step_timing.damp_(transformer, keep=("img_in", "txt_in"))  # 60 blocks
    config = QwenImageEditConfig(
        dtype=args.dtype, gradient_checkpointing=not args.no_checkpointing, vae_batch_size=4,
        cfg="all" if args.cfg else "off", pipeline="edit_plus",
    )
    scheduler = FlowMatchEulerDiscreteScheduler(**QWEN_SCHEDULER_CONFIG)
    backbone = QwenImageEdit.from_components(config, device, transformer=transformer, scheduler=scheduler, vae=vae)
    return backbone, sum(p.numel() for p in transformer.parameters())


def random_condition(backbone, n: int, h: int, w: int, ref_h: int, ref_w: int, text_tokens: int, guided: bool, device):
    """A QwenCondition as ``encode_condition`` makes it (shapes and dtypes), with random VL / reference tensors."""
    from editrl_qwen.backbone import QwenCondition

    cfg = backbone.transformer.config
    rand = step_timing.random_tensors(backbone.transformer.dtype, device)
    instruction = torch.zeros(n, text_tokens, dtype=torch.bool)
    instruction[:, -30:-13] = True  # ≈ the instruction's place: before <|im_end|>\n<|im_start|>assistant\n
    return QwenCondition(
        prompt_embeds=rand(n, text_tokens, cfg.joint_attention_dim),
        prompt_mask=None,
        instruction_mask=instruction.to(device),
        ref_latents=rand(n, (ref_h // 2) * (ref_w // 2), cfg.in_channels),
        negative_embeds=rand(n, text_tokens // 2, cfg.joint_attention_dim) if guided else None,
        negative_mask=None,
        img_shapes=((1, h // 2, w // 2), (1, ref_h // 2, ref_w // 2)),
        grid=(h, w),
    )


def alone_inputs(rep, rows: int) -> dict:
    """The transformer's own arguments for the bare passes (besides the random latents and the timestep)."""
    return dict(
        guidance=None, encoder_hidden_states_mask=None, encoder_hidden_states=rep.prompt_embeds,
        img_shapes=[list(rep.img_shapes)] * rows, attention_kwargs={},
    )


def main() -> None:
    parser = step_timing.parser(__doc__, text_tokens=260, text_help="VL tokens after the dropped system prefix")
    parser.add_argument("--reference-resolution", type=int, default=1024, help="reference side (pipeline: 1024)")
    parser.add_argument("--cfg", action="store_true", help="true CFG on every pass (backbone.cfg=all)")
    parser.add_argument("--zero-cond-t", action="store_true", help="the 2511 transformer (t = 0 reference tokens)")
    args = parser.parse_args()
    device = step_timing.require_device(args, "qwen_step.py", "Qwen-Image-sized", 64)
    backbone, n_params = build(args, device)
    ref = args.reference_resolution // backbone.vae_scale_factor  # side of the reference latent grid
    step_timing.run(
        args, backbone, n_params,
        lambda n, h, w: random_condition(backbone, n, h, w, ref, ref, args.text_tokens, args.cfg, device),
        alone_inputs,
        passes=2 if args.cfg else 1,
        settings=f", true CFG {'on' if args.cfg else 'off'}",
        tokens=lambda h, w: f"{h // 2 * (w // 2)} target + {(ref // 2) ** 2} reference + {args.text_tokens} text tokens",
        vae="Qwen-Image",
        unit="velocities",
    )


if __name__ == "__main__":
    main()
