"""LPIPS through the ``lpips`` package, in CompBench's zero-fill form and as a true masked average.

``lpips.LPIPS`` ships its linear heads in the wheel but builds its backbone from torchvision's ImageNet weights, which
``torch.hub`` downloads into ``<torch hub dir>/checkpoints/`` on first use. Offline, that download fails; the load
then stops with the file name, the address torchvision gives for it and the folder it must be put in.
"""

from __future__ import annotations

import warnings

import torch

from editrl.errors import ResourceError

#: torchvision's weights enum of each lpips backbone (lpips 0.1.4 builds squeezenet1_1, alexnet and vgg16).
TORCHVISION_WEIGHTS = {"squeeze": "SqueezeNet1_1_Weights", "alex": "AlexNet_Weights", "vgg": "VGG16_Weights"}


def backbone_weights(net: str) -> tuple[str, str]:
    """``(url, cached file path)`` of the torchvision ImageNet weights lpips' ``net`` backbone loads."""
    import torchvision

    url = getattr(torchvision.models, TORCHVISION_WEIGHTS[net]).IMAGENET1K_V1.url
    return url, f"{torch.hub.get_dir()}/checkpoints/{url.rsplit('/', 1)[-1]}"


def build_lpips(net: str, spatial: bool):
    """``lpips.LPIPS(net=net, spatial=spatial)`` in eval mode, without gradients, or a :class:`ResourceError` saying
    which backbone file to fetch when it is not cached and cannot be downloaded, or is cached but unreadable."""
    import pickle

    import lpips

    url, path = backbone_weights(net)
    try:
        with warnings.catch_warnings():  # lpips 0.1.4 calls torchvision's deprecated `pretrained=True`
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net=net, spatial=spatial, verbose=False)
    except OSError as exc:  # urllib's URLError when offline
        raise ResourceError(
            f"compbench_lpips: lpips' {net} backbone weights are not cached and could not be fetched ({exc}). "
            f"Download {url} on a machine with network access and put it at {path} (or set TORCH_HOME)."
        ) from None
    except (ValueError, RuntimeError, pickle.UnpicklingError) as exc:  # a cached file that is not those weights
        raise ResourceError(
            f"compbench_lpips: {path} is not a readable copy of lpips' {net} backbone weights ({exc}); "
            f"download {url} again and put it there"
        ) from None
    return model.eval().requires_grad_(False)


class PerceptualDistance:
    """Zero-fill and masked LPIPS of edits against references with one backbone, loaded on first use.

    - zero-fill (CompBench, PIE-Bench): ``LPIPS(2·x·keep − 1, 2·y·keep − 1)``, lpips' ordinary spatially averaged
      distance; the hole is black in both inputs.
    - masked: lpips' spatial map (``spatial=True``: each layer's distance upsampled to the input size and summed) of
      ``2x − 1`` against ``2y − 1``, averaged over the kept pixels. Its receptive fields still see the edit region
      near the mask; it is editrl's definition, not a published one (notes/eval_metrics.md §4.4).
    """

    def __init__(self, net: str) -> None:
        self.net = net
        self.model = None  # lpips.LPIPS; its ``spatial`` flag is read on every call, so one network serves both
        self.device: torch.device | None = None

    def load(self, device: torch.device) -> None:
        """Build the lpips network on ``device``."""
        if self.model is None:
            self.model = build_lpips(self.net, spatial=False)
        self.model = self.model.to(device)
        self.device = torch.device(device)

    def _distance(self, x: torch.Tensor, y: torch.Tensor, spatial: bool) -> torch.Tensor:
        self.model.spatial = spatial  # type: ignore[union-attr]
        return self.model(x, y)  # type: ignore[misc]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(zero_fill [M], masked [M])`` LPIPS of ``x`` against ``y`` (``[M, 3, H, W]`` in [0, 1]) outside
        ``mask [M, 1, H, W]`` (1 = edit); masked is NaN on a row without kept pixels."""
        if self.model is None:
            self.load(x.device)
        keep = 1.0 - mask.float().to(self.device)  # [M, 1, H, W]
        x, y = x.float().to(self.device), y.float().to(self.device)
        zero_fill = self._distance(2.0 * x * keep - 1.0, 2.0 * y * keep - 1.0, spatial=False).flatten()  # [M]
        dist_map = self._distance(2.0 * x - 1.0, 2.0 * y - 1.0, spatial=True)  # [M, 1, H, W]
        kept = keep.sum(dim=(1, 2, 3))  # [M]
        masked = (dist_map * keep).sum(dim=(1, 2, 3)) / kept.clamp_min(torch.finfo(torch.float32).tiny)  # [M]
        masked = torch.where(kept > 0, masked, torch.full_like(masked, float("nan")))
        return zero_fill.float().cpu(), masked.float().cpu()
