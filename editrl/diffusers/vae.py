"""Chunked VAE encode/decode with a VAE's own latent normalisation, as the pipelines do it.

Images are ``[M, 3, H, W]`` in [0, 1]; latents are editrl's grid layout ``[M, C, h, w]``. Video-style VAEs (Qwen-Image's
``AutoencoderKLQwenImage``) take ``[M, 3, 1, H, W]`` and return one frame: ``frames=True`` adds and drops that axis.
Encoding uses ``latent_dist.mode()`` (the pipelines' ``sample_mode="argmax"``), so it is deterministic.
"""

from __future__ import annotations

import torch
from torch import nn


class VaeCodec:
    """Subclasses define :meth:`normalise` and :meth:`denormalise` with the exact arithmetic of their pipeline."""

    def __init__(self, vae: nn.Module, batch_size: int, frames: bool = False) -> None:
        self.vae = vae
        self.batch_size = batch_size
        self.frames = frames

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode_pixels(self, pixels: torch.Tensor, out_device: torch.device) -> torch.Tensor:
        """Pixels already in the VAE's input range ``[-1, 1]`` (``[M, 3, H, W]``) → normalised ``[M, C, h, w]``, in
        the VAE's dtype, on ``out_device``."""
        out = []
        for chunk in pixels.split(self.batch_size):
            x = chunk.to(device=self.vae.device, dtype=self.vae.dtype)  # [m, 3, H, W]
            if self.frames:
                x = x.unsqueeze(2)  # [m, 3, 1, H, W]
            z = self.normalise(self.vae.encode(x).latent_dist.mode())
            out.append((z[:, :, 0] if self.frames else z).to(out_device))  # [m, C, h, w]
        return torch.cat(out)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, out_device: torch.device) -> torch.Tensor:
        """``[M, 3, H, W]`` in [0, 1] → normalised latents (``image_processor.preprocess``: ``2x − 1``)."""
        return self.encode_pixels(2.0 * images.float() - 1.0, out_device)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, out_device: torch.device) -> torch.Tensor:
        """``[M, C, h, w]`` → ``[M, 3, H, W]`` float32 in [0, 1] (``image_processor.denormalize``)."""
        out = []
        for chunk in latents.split(self.batch_size):
            z = chunk.to(device=self.vae.device, dtype=self.vae.dtype)  # [m, C, h, w]
            if self.frames:
                z = z.unsqueeze(2)  # [m, C, 1, h, w]
            image = self.vae.decode(self.denormalise(z), return_dict=False)[0]
            image = image[:, :, 0] if self.frames else image  # [m, 3, H, W] in [-1, 1]
            out.append((image * 0.5 + 0.5).clamp(0, 1).float().to(out_device))
        return torch.cat(out)


class ShiftScaleCodec(VaeCodec):
    """``AutoencoderKL`` of FLUX: ``(z − shift)·scale`` and back ``z/scale + shift``."""

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.vae.config.shift_factor) * self.vae.config.scaling_factor

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z / self.vae.config.scaling_factor + self.vae.config.shift_factor


class MeanStdCodec(VaeCodec):
    """``AutoencoderKLQwenImage``: per-channel ``(z − mean)/std``; back as the pipeline writes it, ``z/(1/std) + mean``."""

    def _stats(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1) + (1,) * (z.dim() - 2)  # channels on dim 1
        mean = torch.tensor(self.vae.config.latents_mean).view(shape).to(z.device, z.dtype)
        std = torch.tensor(self.vae.config.latents_std).view(shape).to(z.device, z.dtype)
        return mean, std

    def normalise(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(z)
        return (z - mean) / std

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(z)
        return z / (1.0 / std) + mean
