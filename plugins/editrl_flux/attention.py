"""Text → target-image attention capture for FLUX (docs/method.md §5) through a custom attention processor.

The capture processor computes a block's attention exactly as diffusers' ``FluxAttnProcessor`` does (the body below is
the 0.42.1 one, line for line, and the main attention still goes through ``dispatch_attention_fn`` so backends and
parallel configs apply), and hands the same post-q/k-norm, post-RoPE ``q, k`` to the shared
:class:`editrl.diffusers.capture.CaptureState`, which records the softmax of each real text query over the
*target-image* keys only.

Joint sequence order in both block kinds: ``[text T | target image N | reference image R]``. Dual-stream blocks
concatenate text first inside the processor; single-stream blocks receive the concatenation from the block, so the
text length comes from the state (set by the backbone around each forward).
"""

from __future__ import annotations

import torch
from diffusers.models.transformers import transformer_flux as _tf

from editrl.diffusers.capture import CaptureProcessor


class FluxCaptureAttnProcessor(CaptureProcessor, _tf.FluxAttnProcessor):
    """``FluxAttnProcessor`` that also records the text→target-image attention while its state is armed."""

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

        # --- capture (no-grad, reads q/k only); single-stream blocks get the text from outside ---
        self.capture(query, key, None if encoder_hidden_states is None else encoder_hidden_states.shape[1])

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
