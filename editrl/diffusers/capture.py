"""Text → target-image attention capture (docs/method.md §5) shared by the diffusers backbones' capture processors.

A backbone's capture processor computes its block's attention exactly as the default diffusers processor does and,
just before the attention kernel, hands the post-norm, post-RoPE ``query``/``key`` ``[M, S, H, D]`` to
:meth:`CaptureState.record`. Both FLUX and Qwen-Image order the joint sequence ``[text T | target N | reference R]``.
The record is, per row, the softmax of each text query over the *target-image* keys only (reference keys excluded),
averaged over heads and then over the text tokens of ``txt_weights`` (real tokens for FLUX, instruction tokens for
Qwen-Image). Only ``T × N`` scores per head exist at a time, chunked over rows; the joint matrix is never built.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Most fp32 scores one capture chunk holds (2^26 floats = 256 MB): rows are processed in chunks under this budget.
SCORE_BUDGET = 1 << 26


class CaptureState:
    """Shared by the capture processors of one backbone. ``records`` is the list the context manager yields."""

    def __init__(self) -> None:
        self.records: list[torch.Tensor] | None = None  # None: capture not active
        self.armed = False  # True only during a forward the backbone wants recorded (never a backward re-run)
        self.txt_len = 0
        self.img_len = 0
        self.txt_mask: torch.Tensor | None = None  # [M, T] bool, True = a text token the map averages over

    @property
    def active(self) -> bool:
        return self.records is not None

    def arm(self, txt_len: int, img_len: int, txt_mask: torch.Tensor | None) -> None:
        """Record the next forward (when capture is active) with these text/target lengths and text weights."""
        self.armed = self.active
        if self.armed:
            self.txt_len, self.img_len, self.txt_mask = txt_len, img_len, txt_mask

    def disarm(self) -> None:
        self.armed = False  # gradient checkpointing re-runs blocks in backward: never record those
        self.txt_mask = None

    @torch.no_grad()
    def record(self, query: torch.Tensor, key: torch.Tensor) -> None:
        """``query``/``key`` ``[M, S, H, D]`` after q/k norm and RoPE → append ``[M, N]`` float32."""
        T, N = self.txt_len, self.img_len
        M, _, H, D = query.shape
        scale = 1.0 / math.sqrt(D)  # SDPA's default scale, which both default processors use
        if self.txt_mask is None:
            weights = torch.ones(M, T, device=query.device)
        else:
            weights = self.txt_mask.to(device=query.device, dtype=torch.float32)  # [M, T] 1 = averaged token
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1.0)  # mean over the selected text tokens
        chunk = max(1, SCORE_BUDGET // (H * T * N))  # rows per chunk; no host sync anywhere
        out = []
        for start in range(0, M, chunk):
            rows = slice(start, start + chunk)
            q_txt = query[rows, :T].float()  # [m, T, H, D] text queries
            k_img = key[rows, T : T + N].float()  # [m, N, H, D] target-image keys only
            probs = (torch.einsum("mthd,mnhd->mhtn", q_txt, k_img) * scale).softmax(dim=-1).mean(dim=1)  # [m, T, N]
            out.append(torch.einsum("mt,mtn->mn", weights[rows], probs))  # unselected rows weigh 0
        self.records.append(torch.cat(out))


def install(
    modules: list[tuple[str, nn.Module]], last_layers: int, default: type, make, backbone: str
) -> list[tuple[nn.Module, object]]:
    """Put ``make(original)`` processors on the last ``last_layers`` of ``modules`` (``(name, attention)`` in block
    order); return ``(module, original processor)`` pairs for :func:`restore`. Refuses a block whose processor is not
    exactly ``default`` (an IP-adapter, another capture, a custom processor: the copy would change its output)."""
    if not 1 <= last_layers <= len(modules):
        raise ValueError(f"attention capture: last_layers must be in 1..{len(modules)}, got {last_layers}")
    saved = []
    for name, attn in modules[-last_layers:]:
        original = attn.processor
        if type(original) is not default:
            raise RuntimeError(
                f"{backbone} attention capture: {name} uses {type(original).__name__}, not diffusers' default "
                f"{default.__name__} (IP-adapter, another capture or a custom processor); the capture processor would "
                "change its output"
            )
        saved.append((attn, original))
    for attn, original in saved:
        attn.set_processor(make(original))
    return saved


def restore(saved: list[tuple[nn.Module, object]]) -> None:
    for attn, original in saved:
        attn.set_processor(original)


class CaptureProcessor:
    """Mixin of the backbones' capture processors: ``class X(CaptureProcessor, DefaultProcessor)``, the diffusers
    processor whose computation X copies as its *last* base (:meth:`default`). Holds the shared :class:`CaptureState`,
    keeps the attention backend / parallel config set on the processor it replaces, and records through
    :meth:`capture`."""

    def __init__(self, state: CaptureState, replaces=None) -> None:
        super().__init__()
        self.state = state
        if replaces is not None:
            self._attention_backend = replaces._attention_backend
            self._parallel_config = replaces._parallel_config

    @classmethod
    def default(cls) -> type:
        """The diffusers processor this one replaces (its last base)."""
        return cls.__bases__[-1]

    def capture(self, query: torch.Tensor, key: torch.Tensor, txt_len: int | None) -> None:
        """Record the joint post-norm, post-RoPE ``query``/``key`` ``[M, S, H, D]`` while the state is armed (no-grad,
        reads them only). ``txt_len``: the block's own text length, checked against the backbone's (None: a block
        that gets the joint sequence from outside and so cannot tell)."""
        if not (self.state.armed and self.state.records is not None):
            return
        if txt_len is not None and txt_len != self.state.txt_len:
            raise RuntimeError("attention capture: text length of the block differs from the backbone's")
        self.state.record(query.detach(), key.detach())
