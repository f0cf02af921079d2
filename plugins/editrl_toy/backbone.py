"""``toy_editor``: the toy world's instruction-guided editor as an editrl backbone (latent space = pixel space)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from editrl.data.inspection import ExampleInfo
from editrl.errors import ResourceError
from editrl.interfaces import Backbone, Condition, EditBatch
from editrl.interfaces.backbone import BackboneConfig
from editrl_toy.allocator import keep_freed_memory
from editrl_toy.editor import GRID, IMAGE, ToyEditorNet
from editrl_toy.vocabulary import WORDS, tokenize

#: Where the shipped weights live (``weights: builtin``).
BUILTIN_WEIGHTS = Path(__file__).parent / "weights" / "toy_editor.safetensors"
#: The latent of one image: pixel space rescaled to [-1, 1].
LATENT_SHAPE = (3, IMAGE, IMAGE)


class ToyEditorConfig(BackboneConfig):
    weights: str = "builtin"
    """``builtin`` (the shipped pretrained editor), ``random`` (fresh init from ``init_seed``) or a path to a
    ``.safetensors`` file written by ``editrl toy pretrain``."""
    init_seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of the random initialisation (used when ``weights: random``, and before loading any weights)."""
    dim: int = Field(64, ge=8, le=1024)
    """Token width D; a multiple of 4 and of ``heads``. The default is the shipped model's."""
    depth: int = Field(4, ge=1, le=32)
    """Transformer blocks. The default is the shipped model's."""
    heads: int = Field(2, ge=1, le=32)
    """Attention heads. The default is the shipped model's."""
    mlp_ratio: float = Field(4.0, gt=0.0, le=8.0)
    """MLP hidden width over D. The default is the shipped model's."""
    max_text_len: int = Field(12, ge=8, le=64)
    """Padded instruction length T in words (the world's instructions have at most 8)."""
    sigma_shift: float = Field(1.0, ge=0.1, le=10.0)
    """Shift s of the sampling schedule, ``σ' = s·σ / (1 + (s − 1)·σ)``; 1 = plain linspace(1, 0, K + 1)."""
    sigma_floor: float = Field(1e-3, gt=0.0, le=0.1)
    """The velocity ``(x_σ − x̂_0)/σ`` divides by at least this (the solvers never evaluate σ = 0)."""
    tune_allocator: bool = True
    """On CPU, ask glibc to keep freed memory for reuse (process-wide; about 2× faster rollouts on small VMs, see
    ``editrl_toy.allocator``). Numerics are unaffected."""

    @model_validator(mode="after")
    def _divisible(self) -> ToyEditorConfig:
        if self.dim % 4 or self.dim % self.heads:
            raise ValueError(f"dim must be a multiple of 4 and of heads ({self.heads}), got dim={self.dim}")
        return self

    def architecture(self) -> dict:
        """The fields that fix the network's shapes, as stored in ``toy_editor.json``."""
        return self.model_dump(include={"dim", "depth", "heads", "mlp_ratio", "max_text_len"})


@dataclasses.dataclass
class ToyCondition(Condition):
    """The toy editor's condition: the padded instruction and the source latents, one row per example."""

    text: torch.Tensor  # [N, T] int64 word ids, 0 = padding
    text_mask: torch.Tensor  # [N, T] bool, True on real words
    source: torch.Tensor  # [N, 3, 32, 32] source latents in [-1, 1]


def build_network(config: ToyEditorConfig) -> ToyEditorNet:
    """A freshly initialised network for ``config``, seeded by ``init_seed`` (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.init_seed)
        return ToyEditorNet(
            vocab_size=len(WORDS), max_text_len=config.max_text_len, dim=config.dim, depth=config.depth,
            heads=config.heads, mlp_ratio=config.mlp_ratio, sigma_floor=config.sigma_floor,
        )  # fmt: skip


def load_weights(net: nn.Module, path: Path) -> None:
    """Load a safetensors state dict into ``net``; :class:`ResourceError` naming the file on any mismatch."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ResourceError(
            f"toy_editor weights file {str(path)!r} does not exist; set backbone.weights to 'builtin', 'random' or "
            "the path of a file written by `editrl toy pretrain`"
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ResourceError(f"toy_editor weights file {str(path)!r} is not a readable safetensors file: {exc}") from None
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        hint = ""
        meta = path.with_suffix(".json")
        if meta.is_file():
            with contextlib.suppress(Exception):
                hint = f"; the file was trained with architecture {json.loads(meta.read_text())['architecture']}"
        problems = [f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else ""]
        problems += wrong[:3]
        raise ResourceError(
            f"toy_editor weights file {str(path)!r} does not fit the configured architecture "
            f"(dim, depth, heads, mlp_ratio, max_text_len): {'; '.join(p for p in problems if p)}{hint}"
        )
    net.load_state_dict(state)


class ToyEditor(Backbone):
    """A small joint-attention editor over [instruction | target patches | source patches] (FLUX-Kontext style)."""

    name = "toy_editor"
    Config: ClassVar[type[ToyEditorConfig]] = ToyEditorConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"attention"})
    default_lora_targets: ClassVar[tuple[str, ...]] = ("to_q", "to_k", "to_v", "to_out")
    condition_class: ClassVar[type[Condition]] = ToyCondition
    config: ToyEditorConfig

    def __init__(self, config: ToyEditorConfig) -> None:
        super().__init__(config)
        self._net: nn.Module | None = None
        self.device = torch.device("cpu")

    # -- lifecycle -------------------------------------------------------------------------------------------
    def load(self, device: torch.device, encoders: bool = True) -> None:
        """Build the network, load its weights (``builtin``, ``random`` or a path) and move it to ``device``. The toy
        has no encoder networks (tokens and ``2·img − 1``), so ``encoders`` changes nothing."""
        net = build_network(self.config)
        if self.config.weights == "builtin":
            if not BUILTIN_WEIGHTS.is_file():
                raise ResourceError(
                    f"the builtin toy_editor weights {str(BUILTIN_WEIGHTS)!r} are missing from this installation; "
                    "reinstall editrl or train them with `editrl toy pretrain --out DIR`"
                )
            load_weights(net, BUILTIN_WEIGHTS)
        elif self.config.weights != "random":
            load_weights(net, Path(self.config.weights).expanduser())
        net.eval()
        self.device = torch.device(device)
        if self.config.tune_allocator and self.device.type == "cpu":
            keep_freed_memory()
        self._net = net.to(self.device)

    @property
    def denoiser(self) -> nn.Module:
        if self._net is None:
            raise RuntimeError("toy_editor: call load(device) before using the network")
        return self._net

    @denoiser.setter
    def denoiser(self, module: nn.Module) -> None:
        self._net = module

    def _core(self) -> ToyEditorNet:
        """The unwrapped network (under a DDP-style ``.module`` wrapper, if any)."""
        net = self.denoiser
        while not isinstance(net, ToyEditorNet) and isinstance(getattr(net, "module", None), nn.Module):
            net = net.module
        if not isinstance(net, ToyEditorNet):
            raise RuntimeError(f"toy_editor: cannot find the ToyEditorNet inside {type(self.denoiser).__name__}")
        return net

    def condition_key(self) -> dict:
        """The condition depends on the vocabulary and the padded length only (not on the network's weights)."""
        return {"vocabulary": WORDS, "max_text_len": self.config.max_text_len}

    # -- the flow --------------------------------------------------------------------------------------------
    def encode_condition(self, batch: EditBatch) -> ToyCondition:
        """Tokenise the instructions (ValueError naming any unknown word) and encode the source images."""
        self.latent_shape(batch)
        text, text_mask = tokenize(batch.instructions, self.config.max_text_len)
        return ToyCondition(
            text=text.to(self.device),
            text_mask=text_mask.to(self.device),
            source=self.encode_images(batch.source.to(self.device)),
        )

    def latent_shape(self, batch: EditBatch) -> tuple[int, int, int]:
        """Always ``(3, 32, 32)``; ValueError if the batch's images are not 32×32 RGB."""
        if tuple(batch.source.shape[1:]) != LATENT_SHAPE:
            raise ValueError(
                f"toy_editor edits 3×32×32 images (the toy_shapes world); got source images of shape "
                f"{tuple(batch.source.shape[1:])}"
            )
        return LATENT_SHAPE

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """Always ``(32, 32)``: the toy editor edits 32×32 images only."""
        return IMAGE, IMAGE

    def sigmas(self, num_steps: int, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """``[K + 1]``: linspace(1, 0, K + 1), shifted by ``sigma_shift`` (identity at 1)."""
        s = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
        shift = self.config.sigma_shift
        return (shift * s / (1 + (shift - 1) * s)).float()

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: Condition) -> torch.Tensor:
        """``x [M, 3, 32, 32]``, ``sigma [M]``, a :class:`ToyCondition` with M rows → velocity ``[M, 3, 32, 32]``."""
        if not isinstance(cond, ToyCondition):
            raise TypeError(f"toy_editor needs a ToyCondition, got {type(cond).__name__}")
        return self.denoiser(x.float(), sigma.float(), cond.text, cond.text_mask, cond.source)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[M, 3, 32, 32]`` latents in [-1, 1] → images in [0, 1]."""
        return ((latents.float() + 1) / 2).clamp(0, 1)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """``[M, 3, 32, 32]`` images in [0, 1] → latents ``2·img − 1``."""
        return images.float() * 2 - 1

    # -- data check ------------------------------------------------------------------------------------------
    def check_example(self, info: ExampleInfo) -> list[str]:
        """Refuse examples the toy editor cannot edit: images other than 32×32 after the dataset's resize, and
        instructions with words outside the toy vocabulary (or longer than ``max_text_len``)."""
        problems = []
        if info.shape is not None and tuple(info.shape) != LATENT_SHAPE[1:]:
            problems.append(
                f"toy_editor edits {IMAGE}×{IMAGE} images, this example is given as {info.shape[0]}×{info.shape[1]} "
                f"(set the dataset's resolution to {IMAGE})"
            )
        try:
            tokenize([info.instruction], self.config.max_text_len)
        except ValueError as exc:
            problems.append(f"toy_editor: {exc}")
        return problems

    # -- masks -----------------------------------------------------------------------------------------------
    def token_mask(self, pixel_mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """Pixel mask ``[N, 1, 32, 32]`` → ``[N, 64]`` over target tokens (max-pool to 8×8, row-major)."""
        return F.adaptive_max_pool2d(pixel_mask.float(), (GRID, GRID)).flatten(1)

    # -- capabilities ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def capture_attention(self, last_layers: int) -> Iterator[list[torch.Tensor]]:
        """While active, each forward appends one ``[M, 64]`` text→target-image map per block of the last
        ``last_layers`` blocks (in block order): softmax over target-image keys only, after the q/k norms, heads
        averaged, then averaged over the real (non-padding) words. Computed from q_text·k_targetᵀ alone, detached;
        the network's outputs are unchanged."""
        blocks = self._core().blocks
        if not 1 <= last_layers <= len(blocks):
            raise ValueError(f"capture_attention: last_layers must be in 1..{len(blocks)} (the toy editor's depth)")
        sink: list[torch.Tensor] = []
        captured = [b.attn for b in blocks[len(blocks) - last_layers :]]
        for attn in captured:
            if attn.sink is not None:
                raise RuntimeError("toy_editor: capture_attention is already active")
        for attn in captured:
            attn.sink = sink
        try:
            yield sink
        finally:
            for attn in captured:
                attn.sink = None
