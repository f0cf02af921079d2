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
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))  # until `pip install -e .` has editrl_flux

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
TINY_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
    use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035,
)


class Timer:
    """Wall time of a block: CUDA events on a GPU (after a synchronize), perf_counter on a CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __call__(self, fn) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1000.0
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def build(args, device: torch.device):
    """Random FLUX-sized (or tiny) transformer and VAE in the run dtype, made on the device; the backbone around them."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from editrl_flux import FluxKontext, FluxKontextConfig
    from editrl_flux.tiny import KONTEXT_SCHEDULER_CONFIG

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    previous = torch.get_default_dtype()
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)  # parameters are created in the run dtype, on the device: no 48 GB fp32 copy
    try:
        with torch.device(device):
            transformer = FluxTransformer2DModel(**(TINY_TRANSFORMER if args.tiny else FLUX_TRANSFORMER))
            vae = AutoencoderKL(**(TINY_VAE if args.tiny else FLUX_VAE))
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():  # keep the random network's activations in range over 57 blocks (the cost is unchanged)
        for name, p in transformer.named_parameters():
            if p.dim() == 2 and not name.startswith(("x_embedder", "context_embedder")):
                p.mul_(0.5)
    config = FluxKontextConfig(dtype=args.dtype, gradient_checkpointing=not args.no_checkpointing, vae_batch_size=4)
    scheduler = FlowMatchEulerDiscreteScheduler(**KONTEXT_SCHEDULER_CONFIG)
    backbone = FluxKontext.from_components(config, device, transformer=transformer, scheduler=scheduler, vae=vae)
    n_params = sum(p.numel() for p in transformer.parameters())
    return backbone, n_params


def random_condition(backbone, n: int, h: int, w: int, text_tokens: int, real_tokens: int, device):
    """A FluxCondition as ``encode_condition`` makes it (shapes and dtypes), with random T5/CLIP/reference tensors."""
    from editrl_flux.backbone import FluxCondition, grid_ids

    cfg = backbone.transformer.config
    dtype = backbone.transformer.dtype
    g = torch.Generator(device="cpu").manual_seed(1)
    rand = lambda *shape: torch.randn(*shape, generator=g).to(device=device, dtype=dtype)  # noqa: E731
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=512, help="square image side (default 512)")
    parser.add_argument("--group-size", "-G", type=int, default=12)
    parser.add_argument("--steps", "-K", type=int, default=8, help="Euler steps of a rollout")
    parser.add_argument("--anchors", "-B", type=int, default=4)
    parser.add_argument("--groups", "-N", type=int, default=1, help="edit examples per step")
    parser.add_argument("--rank", type=int, default=32, help="LoRA rank on the attention projections")
    parser.add_argument("--text-tokens", type=int, default=512, help="T5 sequence (max_sequence_length)")
    parser.add_argument("--capture-layers", type=int, default=0, help="capture the last L layers in the rollout")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--no-checkpointing", action="store_true", help="gradient checkpointing off")
    parser.add_argument("--repeats", type=int, default=3, help="measured repeats (after one warm-up); medians")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the tiny test transformer instead (smoke test)")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "flux_step.py: no CUDA device. The FLUX.1-sized benchmark needs a CUDA GPU with at least 48 GB of memory "
            "(80 GB recommended); `--tiny --device cpu` runs the script's code path on a CPU with the tiny model."
        )
    if not args.tiny and device.type != "cuda":
        sys.exit("flux_step.py: the FLUX.1-sized model only runs on a CUDA GPU; use --tiny for a CPU smoke test.")

    from peft import LoraConfig

    from editrl.engine.lora import LoraController
    from editrl.engine.rollout import integrate
    from editrl.interfaces import InitialNoise, Rollout, TrainContext
    from editrl.interfaces.solver import SolverConfig
    from editrl_neighbor_grpo.grpo_clip import GrpoClip, GrpoClipConfig
    from editrl_neighbor_grpo.policy import MaskedPolicy, MaskedPolicyConfig
    from editrl_solvers import Euler

    backbone, n_params = build(args, device)
    vsf = backbone.vae_scale_factor
    C, h, w = backbone.latent_channels, args.resolution // vsf, args.resolution // vsf
    N, G, K, B = args.groups, args.group_size, args.steps, args.anchors
    lora = LoraController(
        backbone.denoiser, LoraConfig(r=args.rank, lora_alpha=args.rank, target_modules=list(backbone.default_lora_targets))
    )
    params = lora.trainable_parameters()
    adamw = torch.optim.AdamW(params, lr=1e-4)
    solver = Euler(SolverConfig(steps=K))
    policy = MaskedPolicy(MaskedPolicyConfig())
    optimizer = GrpoClip(GrpoClipConfig(anchors=B))
    cond = random_condition(backbone, N, h, w, args.text_tokens, min(40, args.text_tokens), device)
    sigmas = backbone.sigmas(K, (C, h, w))
    gen = torch.Generator().manual_seed(0)
    latent_mask = torch.zeros(N, 1, h, w, device=device)
    latent_mask[..., h // 4 : h // 2, w // 4 : 3 * w // 4] = 1
    ctx = TrainContext(backbone=backbone, solver=solver, policy=policy, generator=gen, lora=lora, base_velocity=None)
    optimizer.setup(ctx)
    timer = Timer(device)
    result: dict[str, list[float]] = {"rollout": [], "train": [], "step": [], "alone_rollout": [], "alone_train": [],
                                      "decode": []}

    # -- 1 + 2: an editrl step ------------------------------------------------------------------------------------
    def editrl_step() -> tuple[float, float]:
        x_T = torch.randn(N, G, C, h, w, generator=gen).to(device)
        box = {}

        def rollout():
            cap = backbone.capture_attention(args.capture_layers) if args.capture_layers else None
            with torch.no_grad():
                if cap is None:
                    box["out"] = integrate(backbone, solver, x_T.flatten(0, 1), cond.repeat_interleave(G), sigmas,
                                           keep_states=True)
                else:
                    with cap as maps:
                        box["out"] = integrate(backbone, solver, x_T.flatten(0, 1), cond.repeat_interleave(G), sigmas,
                                               keep_states=True)
                    box["maps"] = len(maps)

        def train():
            final, states = box["out"]
            rollout_ = Rollout(
                cond=cond, sigmas=sigmas, noise=InitialNoise(x_T=x_T, reference=0), final=final.view(N, G, C, h, w),
                states=states.view(K + 1, N, G, C, h, w), latent_mask=latent_mask,
            )
            advantages = torch.randn(N, G, generator=gen)
            for chunk in optimizer.loss_chunks(ctx, rollout_, advantages):
                chunk.loss.backward()
            adamw.step()
            adamw.zero_grad(set_to_none=True)

        return timer(rollout), timer(train)

    # -- 3: the transformer passes alone ---------------------------------------------------------------------------
    transformer = backbone.transformer
    dtype = transformer.dtype

    def inputs(rows: int) -> dict:
        rep = cond.repeat_interleave(rows // N)
        return dict(
            hidden_states=torch.randn(rows, (h // 2) * (w // 2) * 2, 4 * C, device=device, dtype=dtype),
            timestep=torch.full((rows,), 0.5, device=device, dtype=dtype),
            guidance=rep.guidance, pooled_projections=rep.pooled, encoder_hidden_states=rep.prompt_embeds,
            txt_ids=rep.txt_ids, img_ids=rep.img_ids, joint_attention_kwargs={}, return_dict=False,
        )

    rollout_inputs, train_inputs = inputs(N * G), inputs(N * B)

    def alone_rollout():
        with torch.no_grad():
            for _ in range(K):
                transformer(**rollout_inputs)

    def alone_train():
        for _ in range(K):
            out = transformer(**train_inputs)[0]
            out.float().square().mean().backward()
        for p in params:
            p.grad = None

    def decode():
        backbone.decode(torch.randn(N * G, C, h, w, device=device))

    for repeat in range(args.repeats + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t_roll, t_train = editrl_step()
        peak_step = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
        t_alone_roll, t_alone_train = timer(alone_rollout), timer(alone_train)
        t_decode = timer(decode)
        if repeat == 0:
            continue
        result["rollout"].append(t_roll)
        result["train"].append(t_train)
        result["step"].append(t_roll + t_train)
        result["alone_rollout"].append(t_alone_roll)
        result["alone_train"].append(t_alone_train)
        result["decode"].append(t_decode)
        result.setdefault("peak_step_gib", []).append(peak_step)

    med = {k: statistics.median(v) for k, v in result.items()}
    alone = med["alone_rollout"] + med["alone_train"]
    ratio = med["step"] / alone
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {name}; transformer: {n_params / 1e9:.2f} B parameters ({args.dtype}), LoRA rank {args.rank} "
          f"({sum(p.numel() for p in params) / 1e6:.1f} M trained), gradient checkpointing "
          f"{'off' if args.no_checkpointing else 'on'}")
    print(f"shape: {args.resolution}² ({(h // 2) * (w // 2)} target + {(h // 2) * (w // 2)} reference tokens, "
          f"{args.text_tokens} text), N={N} G={G} K={K} B={B}, capture {args.capture_layers or 'off'}; "
          f"medians of {args.repeats}")
    print(f"  rollout  (G·K = {G * K} no-grad forwards per group) {med['rollout']:8.3f} s   "
          f"alone {med['alone_rollout']:8.3f} s")
    print(f"  training (B·K = {B * K} forward+backward per group)  {med['train']:8.3f} s   "
          f"alone {med['alone_train']:8.3f} s   (incl. policy, clip objective, AdamW)")
    print(f"  step (rollout + training)                       {med['step']:8.3f} s   alone {alone:8.3f} s")
    print(f"  ratio step / transformer passes alone: {ratio:.3f}  (target ≤ 1.15)")
    print(f"  decode of the {N * G} candidates (random FLUX VAE, not in the step): {med['decode']:.3f} s")
    if device.type == "cuda":
        print(f"  peak GPU memory in the step: {med['peak_step_gib']:.1f} GiB "
              f"(max over the run {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": name, "args": {k: str(v) for k, v in vars(args).items()},
                                        "medians_s": med, "ratio": ratio, "raw": result}, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
