"""Text → target-image attention capture for FLUX (math.md §5) through custom attention processors.

The capture processor computes a block's attention exactly as diffusers' ``FluxAttnProcessor`` does (the body below is
the 0.42.1 one, line for line, and the main attention still goes through ``dispatch_attention_fn`` so backends and
parallel configs apply), and additionally, under no-grad, the softmax of each real text query over the *target-image*
keys only, from the same post-q/k-norm, post-RoPE ``q, k`` the attention uses. Only ``t_real × N_img`` scores per head
exist at a time (one row at a time); the joint matrix is never built.

Joint sequence order in both block kinds: ``[text T | target image N | reference image R]``. Dual-stream blocks
concatenate text first inside the processor; single-stream blocks receive the concatenation from the block, so the
text length comes from :class:`CaptureState` (set by the backbone around each forward).
"""

from __future__ import annotations

import math

import torch
from diffusers.models.transformers import transformer_flux as _tf

#: Most fp32 scores one capture chunk holds (2^26 floats = 256 MB): rows are processed in chunks under this budget.
SCORE_BUDGET = 1 << 26


class CaptureState:
    """Shared by the capture processors of one backbone. ``records`` is the list the context manager yields."""

    def __init__(self) -> None:
        self.records: list[torch.Tensor] | None = None  # None: capture not active
        self.armed = False  # True only during a forward started by the backbone's ``velocity``
        self.txt_len = 0
        self.img_len = 0
        self.txt_mask: torch.Tensor | None = None  # [M, T] bool, True = real (non-padding) text token

    @property
    def active(self) -> bool:
        return self.records is not None

    @torch.no_grad()
    def record(self, query: torch.Tensor, key: torch.Tensor) -> None:
        """``query``/``key`` ``[M, S, H, D]`` after q/k norm and RoPE → append ``[M, N]`` float32."""
        T, N = self.txt_len, self.img_len
        M, _, H, D = query.shape
        scale = 1.0 / math.sqrt(D)  # SDPA's default scale, which FluxAttnProcessor uses
        if self.txt_mask is None:
            weights = torch.ones(M, T, device=query.device)
        else:
            weights = self.txt_mask.to(device=query.device, dtype=torch.float32)  # [M, T] 1 = real text token
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1.0)  # mean over real text tokens
        chunk = max(1, SCORE_BUDGET // (H * T * N))  # rows per chunk; no host sync anywhere
        out = []
        for start in range(0, M, chunk):
            rows = slice(start, start + chunk)
            q_txt = query[rows, :T].float()  # [m, T, H, D] text queries
            k_img = key[rows, T : T + N].float()  # [m, N, H, D] target-image keys only
            probs = (torch.einsum("mthd,mnhd->mhtn", q_txt, k_img) * scale).softmax(dim=-1).mean(dim=1)  # [m, T, N]
            out.append(torch.einsum("mt,mtn->mn", weights[rows], probs))  # padding rows weigh 0
        self.records.append(torch.cat(out))


class FluxCaptureAttnProcessor(_tf.FluxAttnProcessor):
    """``FluxAttnProcessor`` that also records the text→target-image attention while its state is armed."""

    def __init__(self, state: CaptureState, replaces: _tf.FluxAttnProcessor | None = None) -> None:
        super().__init__()
        self.state = state
        if replaces is not None:  # keep the attention backend / parallel config set on the model
            self._attention_backend = replaces._attention_backend
            self._parallel_config = replaces._parallel_config

    def __call__(
        self,
        attn: _tf.FluxAttention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # --- FluxAttnProcessor.__call__ of diffusers 0.42.1, unchanged except for the marked capture ---
        query, key, value, encoder_query, encoder_key, encoder_value = _tf._get_qkv_projections(
            attn, hidden_states, encoder_hidden_states
        )

        query = query.unflatten(-1, (-1, attn.head_dim))
        key = key.unflatten(-1, (-1, attn.head_dim))
        value = value.unflatten(-1, (-1, attn.head_dim))

        query = attn.norm_q(query)
        key = attn.norm_k(key)

        if attn.added_kv_proj_dim is not None:
            encoder_query = encoder_query.unflatten(-1, (-1, attn.head_dim))
            encoder_key = encoder_key.unflatten(-1, (-1, attn.head_dim))
            encoder_value = encoder_value.unflatten(-1, (-1, attn.head_dim))

            encoder_query = attn.norm_added_q(encoder_query)
            encoder_key = attn.norm_added_k(encoder_key)

            query = torch.cat([encoder_query, query], dim=1)
            key = torch.cat([encoder_key, key], dim=1)
            value = torch.cat([encoder_value, value], dim=1)

        if image_rotary_emb is not None:
            query = _tf.apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = _tf.apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)

        # --- capture (no-grad, reads q/k only) ---
        if self.state.armed and self.state.records is not None:
            if encoder_hidden_states is not None and encoder_hidden_states.shape[1] != self.state.txt_len:
                raise RuntimeError("attention capture: text length of the block differs from the backbone's")
            self.state.record(query.detach(), key.detach())
        # --- end of capture ---

        hidden_states = _tf.dispatch_attention_fn(
            query,
            key,
            value,
            attn_mask=attention_mask,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.flatten(2, 3)
        hidden_states = hidden_states.to(query.dtype)

        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]], dim=1
            )
            hidden_states = attn.to_out[0](hidden_states.contiguous())
            hidden_states = attn.to_out[1](hidden_states)
            encoder_hidden_states = attn.to_add_out(encoder_hidden_states.contiguous())

            return hidden_states, encoder_hidden_states
        else:
            return hidden_states


def attention_modules_in_order(transformer: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``(name, FluxAttention)`` of every block in FLUX order: the dual-stream blocks, then the single-stream ones."""
    return [(f"transformer_blocks.{i}", b.attn) for i, b in enumerate(transformer.transformer_blocks)] + [
        (f"single_transformer_blocks.{i}", b.attn) for i, b in enumerate(transformer.single_transformer_blocks)
    ]


def install(transformer: torch.nn.Module, state: CaptureState, last_layers: int) -> list[tuple[torch.nn.Module, object]]:
    """Put capture processors on the last ``last_layers`` blocks; return ``(module, original processor)`` pairs."""
    modules = attention_modules_in_order(transformer)
    if not 1 <= last_layers <= len(modules):
        raise ValueError(f"attention capture: last_layers must be in 1..{len(modules)}, got {last_layers}")
    saved = []
    for name, attn in modules[-last_layers:]:
        original = attn.processor
        if type(original) is not _tf.FluxAttnProcessor:
            raise RuntimeError(
                f"attention capture: {name} uses {type(original).__name__}, not diffusers' default FluxAttnProcessor "
                "(IP-adapter, another capture or a custom processor); the capture processor would change its output"
            )
        saved.append((attn, original))
    for attn, original in saved:
        attn.set_processor(FluxCaptureAttnProcessor(state, original))
    return saved


def restore(saved: list[tuple[torch.nn.Module, object]]) -> None:
    for attn, original in saved:
        attn.set_processor(original)
