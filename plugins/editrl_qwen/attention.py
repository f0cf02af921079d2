"""Text → target-image attention capture for Qwen-Image (docs/method.md §5) through a custom attention processor.

All Qwen-Image blocks are dual-stream. The capture processor computes a block's attention exactly as diffusers'
``QwenDoubleStreamAttnProcessor2_0`` does (the body below is the 0.42.1 one, line for line; the main attention still
goes through ``dispatch_attention_fn`` so backends and parallel configs apply), and hands the joint post-q/k-norm,
post-RoPE ``q, k`` (order ``[text T | target N | reference R]``) to the shared
:class:`editrl.diffusers.capture.CaptureState`: the softmax of each instruction token's query over the target keys
only, averaged over heads and instruction tokens. It records only while the backbone arms it (the conditional pass).
"""

from __future__ import annotations

import torch
from diffusers.models.transformers import transformer_qwenimage as _tq

from editrl.diffusers.capture import CaptureProcessor


class QwenCaptureAttnProcessor(CaptureProcessor, _tq.QwenDoubleStreamAttnProcessor2_0):
    """``QwenDoubleStreamAttnProcessor2_0`` that also records the text→target-image attention while armed."""

    def __call__(
        self,
        attn,
        hidden_states: torch.FloatTensor,  # Image stream
        encoder_hidden_states: torch.FloatTensor = None,  # Text stream
        encoder_hidden_states_mask: torch.FloatTensor = None,
        attention_mask: torch.FloatTensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.FloatTensor:
        # --- QwenDoubleStreamAttnProcessor2_0.__call__ of diffusers 0.42.1, unchanged except for the marked capture ---
        if encoder_hidden_states is None:
            raise ValueError("QwenDoubleStreamAttnProcessor2_0 requires encoder_hidden_states (text stream)")

        if attention_mask is not None:
            raise ValueError(
                "QwenDoubleStreamAttnProcessor2_0 does not accept an external attention_mask. "
                "Pass encoder_hidden_states_mask to let the processor build the joint mask."
            )

        if encoder_hidden_states_mask is not None:
            seq_img = hidden_states.shape[1]
            image_mask = torch.ones((hidden_states.shape[0], seq_img), dtype=torch.bool, device=hidden_states.device)
            attention_mask = torch.cat([encoder_hidden_states_mask, image_mask], dim=1)
            attention_mask = attention_mask[:, None, None, :]

        seq_txt = encoder_hidden_states.shape[1]

        img_query = attn.to_q(hidden_states)
        img_key = attn.to_k(hidden_states)
        img_value = attn.to_v(hidden_states)

        txt_query = attn.add_q_proj(encoder_hidden_states)
        txt_key = attn.add_k_proj(encoder_hidden_states)
        txt_value = attn.add_v_proj(encoder_hidden_states)

        head_dim = attn.inner_dim // attn.heads
        img_query = img_query.unflatten(-1, (-1, head_dim))
        img_key = img_key.unflatten(-1, (-1, head_dim))
        img_value = img_value.unflatten(-1, (-1, head_dim))

        txt_query = txt_query.unflatten(-1, (-1, head_dim))
        txt_key = txt_key.unflatten(-1, (-1, head_dim))
        txt_value = txt_value.unflatten(-1, (-1, head_dim))

        if attn.norm_q is not None:
            img_query = attn.norm_q(img_query)
        if attn.norm_k is not None:
            img_key = attn.norm_k(img_key)
        if attn.norm_added_q is not None:
            txt_query = attn.norm_added_q(txt_query)
        if attn.norm_added_k is not None:
            txt_key = attn.norm_added_k(txt_key)

        if image_rotary_emb is not None:
            img_freqs, txt_freqs = image_rotary_emb
            img_query = _tq.apply_rotary_emb_qwen(img_query, img_freqs, use_real=False)
            img_key = _tq.apply_rotary_emb_qwen(img_key, img_freqs, use_real=False)
            txt_query = _tq.apply_rotary_emb_qwen(txt_query, txt_freqs, use_real=False)
            txt_key = _tq.apply_rotary_emb_qwen(txt_key, txt_freqs, use_real=False)

        # Order: [text, image]
        joint_query = torch.cat([txt_query, img_query], dim=1)
        joint_key = torch.cat([txt_key, img_key], dim=1)
        joint_value = torch.cat([txt_value, img_value], dim=1)

        # --- capture (no-grad, reads q/k only) ---
        self.capture(joint_query, joint_key, seq_txt)

        joint_hidden_states = _tq.dispatch_attention_fn(
            joint_query,
            joint_key,
            joint_value,
            attn_mask=attention_mask,
            dropout_p=0.0,
            is_causal=False,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )

        joint_hidden_states = joint_hidden_states.flatten(2, 3)
        joint_hidden_states = joint_hidden_states.to(joint_query.dtype)

        txt_attn_output = joint_hidden_states[:, :seq_txt, :]  # Text part
        img_attn_output = joint_hidden_states[:, seq_txt:, :]  # Image part

        img_attn_output = attn.to_out[0](img_attn_output.contiguous())
        if len(attn.to_out) > 1:
            img_attn_output = attn.to_out[1](img_attn_output)  # dropout

        txt_attn_output = attn.to_add_out(txt_attn_output.contiguous())

        return img_attn_output, txt_attn_output


def attention_modules_in_order(transformer: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``(name, Attention)`` of every (dual-stream) block, first to last."""
    return [(f"transformer_blocks.{i}", b.attn) for i, b in enumerate(transformer.transformer_blocks)]
