"""Plumbing shared by the backbones that run a diffusers pipeline's components (FLUX.1 Kontext, Qwen-Image-Edit).

A library, not a plugin: it names no backbone, and each plugin subclasses :class:`DiffusersBackbone` with its own
pipeline. One module per concept:

* ``backbone``: :class:`DiffusersBackbone`: device placement, encoder offload, the working size, unwrapping
  accelerate/DDP wrappers, attention capture and LoRA export wired to the interface;
* ``loading``: finding a model folder (local or hub), refusing one of another kind, sizing it against the device
  before any large download, and turning load failures into :class:`editrl.errors.ResourceError`;
* ``packing``: the 2×2 latent packing both pipelines use, and the token mask in that order;
* ``schedule``: the flow-matching sigmas with the resolution shift μ from the target tokens;
* ``vae``: chunked VAE encode/decode with each VAE's own normalisation;
* ``capture``: the text → target-image attention statistic the capture processors record;
* ``lora_export``: the diffusers-format LoRA file a pipeline's ``load_lora_weights`` reads.

Heavy imports (diffusers, transformers) happen inside functions, so importing editrl stays fast.
"""

from editrl.diffusers.backbone import DTYPES, DiffusersBackbone, DiffusersBackboneConfig, unwrap
from editrl.diffusers.loading import ModelSpec

__all__ = ["DTYPES", "DiffusersBackbone", "DiffusersBackboneConfig", "ModelSpec", "unwrap"]
