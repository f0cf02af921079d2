"""The toy editor network: a small FLUX-Kontext-style joint-attention transformer over
``[instruction words | target patches | source patches]``, in pure torch.

Design choices that make copying the source cheap (a plain sequence-concatenation editor produces patch mosaics):

- each target token embeds its noisy patch *and* the source patch at the same place, so the identity is local;
- the network predicts a gated residual over the source, ``x̂_0 = source + g ⊙ F(...)``, with ``F``'s output layer
  zero-initialised and a per-pixel gate ``g = sigmoid(·)`` (an internal soft edit mask, starting near 0; pretraining
  supervises its logits with the dataset's edit masks), and returns the velocity of that prediction,
  ``v = (x_σ − x̂_0)/σ`` (so ``v ≈ ε − x_0`` exactly when ``x̂_0 ≈ x_0``);
- fixed 2-D sin-cos positions shared by target and source tokens, so "same place" is the same vector.

Joint attention runs over every token (text, target, source), with padding words masked out as keys. Timestep
conditioning is adaLN-single (PixArt-α): one MLP of σ's embedding gives shift/scale/gate vectors, each block adds its own
learned offsets. The query/key projections are RMS-normalised per head before attention, as in FLUX.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Pixels per patch side; a 32×32 image is an 8×8 grid of 48-value patches.
PATCH = 4
IMAGE = 32
GRID = IMAGE // PATCH
N_IMG = GRID * GRID  # 64 tokens per image
PATCH_DIM = 3 * PATCH * PATCH  # 48
#: Initial logit of the edit gate (sigmoid ≈ 0.05: start close to copying the source).
GATE_INIT = -3.0


def patchify(x: torch.Tensor) -> torch.Tensor:
    """``[M, 3, 32, 32]`` → ``[M, 64, 48]`` patches, row-major over the 8×8 grid."""
    m = x.shape[0]
    x = x.reshape(m, 3, GRID, PATCH, GRID, PATCH).permute(0, 2, 4, 1, 3, 5)  # [M, 8, 8, 3, 4, 4]
    return x.reshape(m, N_IMG, PATCH_DIM)


def unpatchify(p: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """``[M, 64, channels·16]`` → ``[M, channels, 32, 32]`` (inverse of :func:`patchify`)."""
    m = p.shape[0]
    p = p.reshape(m, GRID, GRID, channels, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)  # [M, c, 8, 4, 8, 4]
    return p.reshape(m, channels, IMAGE, IMAGE)


def sincos_1d(length: int, dim: int) -> torch.Tensor:
    """Transformer sin-cos positions ``[length, dim]`` (dim even)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)[None]
    out = torch.zeros(length, dim, dtype=torch.float64)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out.float()


def sincos_2d(grid: int, dim: int) -> torch.Tensor:
    """2-D sin-cos positions ``[grid², dim]``: half the channels encode the row, half the column (dim % 4 == 0)."""
    rows = sincos_1d(grid, dim // 2)  # [g, dim/2]
    cols = sincos_1d(grid, dim // 2)
    return torch.cat([rows[:, None].expand(grid, grid, -1), cols[None].expand(grid, grid, -1)], dim=-1).reshape(
        grid * grid, dim
    )


def timestep_embedding(sigma: torch.Tensor, dim: int) -> torch.Tensor:
    """``sigma [M]`` in [0, 1] → sinusoidal features ``[M, dim]`` of ``1000·σ``."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=sigma.device) / half)
    args = 1000.0 * sigma.float()[:, None] * freq[None]  # [M, half]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class RMSNorm(nn.Module):
    """Per-head RMS normalisation with a learned scale (FLUX's q/k norm)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class JointAttention(nn.Module):
    """Multi-head joint attention over ``[text | target | source]`` tokens with q/k RMS norm.

    ``to_q``, ``to_k``, ``to_v`` and ``to_out`` are plain ``nn.Linear`` (the LoRA targets). When ``sink`` is a list,
    each forward also appends the text → target-image attention map (see :meth:`text_to_target`).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(self.head_dim)
        self.norm_k = RMSNorm(self.head_dim)
        self.sink: list[torch.Tensor] | None = None

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        m, length, _ = t.shape
        return t.view(m, length, self.heads, self.head_dim).transpose(1, 2)  # [M, H, L, dh]

    def forward(self, h: torch.Tensor, key_mask: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """``h [M, L, D]`` (the first T tokens are words), ``key_mask [M, 1, 1, L]`` bool (True = attend),
        ``text_mask [M, T]`` → ``[M, L, D]``."""
        q = self.norm_q(self._heads(self.to_q(h)))  # [M, H, L, dh]
        k = self.norm_k(self._heads(self.to_k(h)))
        v = self._heads(self.to_v(h))
        if self.sink is not None:
            self.sink.append(self.text_to_target(q, k, text_mask))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)  # [M, H, L, dh]
        m, _, length, _ = out.shape
        return self.to_out(out.transpose(1, 2).reshape(m, length, -1))

    @staticmethod
    @torch.no_grad()
    def text_to_target(q: torch.Tensor, k: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """Text-query → target-image-key attention, restricted to target keys, heads and real words averaged.

        Args:
            q, k: ``[M, H, L, dh]`` normalised queries and keys of the whole sequence.
            text_mask: ``[M, T]`` bool, True on real words (the first T tokens of the sequence).

        Returns:
            ``[M, 64]`` detached float32; each row sums to 1.
        """
        n_text = text_mask.shape[1]
        q_txt = q[:, :, :n_text].float()  # [M, H, T, dh]
        k_tgt = k[:, :, n_text : n_text + N_IMG].float()  # [M, H, 64, dh]
        probs = torch.softmax(q_txt @ k_tgt.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)  # [M, H, T, 64]
        per_word = probs.mean(dim=1)  # [M, T, 64]
        w = text_mask.float()  # [M, T]
        return ((per_word * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)).detach()  # [M, 64]


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-single modulation (shift, scale, gate for attention and MLP)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = JointAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp_in = nn.Linear(dim, hidden)
        self.mlp_out = nn.Linear(hidden, dim)
        self.modulation = nn.Parameter(torch.zeros(6, dim))  # the block's offsets to the shared modulation

    def forward(self, x: torch.Tensor, mod: torch.Tensor, key_mask: torch.Tensor, text_mask: torch.Tensor):
        """``x [M, L, D]``, ``mod [M, 6, D]`` shared modulation → ``[M, L, D]``."""
        shift1, scale1, gate1, shift2, scale2, gate2 = (mod + self.modulation).unbind(1)  # each [M, D]
        h = self.norm1(x) * (1 + scale1[:, None]) + shift1[:, None]
        x = x + gate1[:, None] * self.attn(h, key_mask, text_mask)
        h = self.norm2(x) * (1 + scale2[:, None]) + shift2[:, None]
        return x + gate2[:, None] * self.mlp_out(F.gelu(self.mlp_in(h)))


class ToyEditorNet(nn.Module):
    """Velocity network of the toy editor.

    Args:
        vocab_size: words in the vocabulary (id 0 is padding).
        max_text_len: T, the padded instruction length.
        dim: token width D (a multiple of ``4`` and of ``heads``).
        depth: transformer blocks.
        heads: attention heads.
        mlp_ratio: MLP hidden width over D.
        sigma_floor: velocity divides by ``max(σ, sigma_floor)``.
    """

    def __init__(
        self, vocab_size: int, max_text_len: int, dim: int, depth: int, heads: int, mlp_ratio: float,
        sigma_floor: float = 1e-3,
    ) -> None:  # fmt: skip
        super().__init__()
        if dim % heads or dim % 4:
            raise ValueError(f"dim ({dim}) must be a multiple of 4 and of heads ({heads})")
        self.max_text_len = max_text_len
        self.sigma_floor = sigma_floor
        self.word_embed = nn.Embedding(vocab_size, dim)
        self.target_embed = nn.Linear(2 * PATCH_DIM, dim)  # [noisy patch | source patch] → D
        self.source_embed = nn.Linear(PATCH_DIM, dim)
        self.type_embed = nn.Parameter(torch.zeros(3, dim))  # text, target, source
        self.register_buffer("text_pos", sincos_1d(max_text_len, dim), persistent=False)  # [T, D]
        self.register_buffer("image_pos", sincos_2d(GRID, dim), persistent=False)  # [64, D]
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Parameter(torch.zeros(2, dim))
        self.final_shift_scale = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, PATCH_DIM)
        self.gate = nn.Linear(dim, PATCH * PATCH)  # per-pixel edit-gate logits of each target patch
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier linears, small embeddings, zero gates (adaLN-zero) and a zero output layer (start by copying)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.word_embed.weight, std=0.5)
        nn.init.normal_(self.type_embed, std=0.5)
        nn.init.normal_(self.time_mlp[0].weight, std=0.02)
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.final_shift_scale.weight)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, GATE_INIT)
        with torch.no_grad():
            for block in self.blocks:
                block.modulation.zero_()
                block.modulation[2].fill_(1.0)  # gates start at 1 so the residual stream is used from step 0
                block.modulation[5].fill_(1.0)

    def predict(
        self, x: torch.Tensor, sigma: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, source: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean-latent prediction ``x̂_0 = source + sigmoid(gate)·F`` and the gate logits.

        Args:
            x: ``[M, 3, 32, 32]`` noisy latents x_σ.
            sigma: ``[M]`` noise levels.
            text: ``[M, T]`` token ids.
            text_mask: ``[M, T]`` bool, True on real words.
            source: ``[M, 3, 32, 32]`` source latents.

        Returns:
            ``(x̂_0 [M, 3, 32, 32], gate_logits [M, 1, 32, 32])``.
        """
        m, t = text.shape
        src_p = patchify(source)  # [M, 64, 48]
        tokens = torch.cat(
            [
                self.word_embed(text) + self.text_pos[:t] + self.type_embed[0],  # [M, T, D]
                self.target_embed(torch.cat([patchify(x), src_p], -1)) + self.image_pos + self.type_embed[1],
                self.source_embed(src_p) + self.image_pos + self.type_embed[2],  # [M, 64, D]
            ],
            dim=1,
        )  # [M, T + 128, D]
        image_keys = torch.ones(m, 2 * N_IMG, dtype=torch.bool, device=x.device)
        key_mask = torch.cat([text_mask, image_keys], dim=1)[:, None, None, :]  # [M, 1, 1, L]
        emb = self.time_mlp(timestep_embedding(sigma, tokens.shape[-1]))  # [M, D]
        mod = self.modulation(emb).view(m, 6, -1)  # [M, 6, D]
        for block in self.blocks:
            tokens = block(tokens, mod, key_mask, text_mask)
        tgt = tokens[:, t : t + N_IMG]  # [M, 64, D]
        shift, scale = (self.final_shift_scale(F.silu(emb)).view(m, 2, -1) + self.final_modulation).unbind(1)
        tgt = self.final_norm(tgt) * (1 + scale[:, None]) + shift[:, None]
        gate_logits = unpatchify(self.gate(tgt), channels=1)  # [M, 1, 32, 32]
        return source + torch.sigmoid(gate_logits) * unpatchify(self.out(tgt)), gate_logits

    def predict_x0(
        self, x: torch.Tensor, sigma: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, source: torch.Tensor
    ) -> torch.Tensor:
        """``x̂_0 [M, 3, 32, 32]``; arguments as :meth:`predict`."""
        return self.predict(x, sigma, text, text_mask, source)[0]

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, source: torch.Tensor
    ) -> torch.Tensor:
        """Velocity ``v = (x_σ − x̂_0) / max(σ, sigma_floor)`` ``[M, 3, 32, 32]``; arguments as :meth:`predict_x0`."""
        x0 = self.predict_x0(x, sigma, text, text_mask, source)
        return (x - x0) / sigma.float().clamp_min(self.sigma_floor)[:, None, None, None]
