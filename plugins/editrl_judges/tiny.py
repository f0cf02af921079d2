"""Tiny judges with known answers, built offline in seconds, for tests and benchmarks of the judge rewards.

- :func:`build_tiny_vlm`: a 2-layer Qwen2.5-VL (width 16) that answers a fixed string whatever the images and
  text — served by ``transformers serve`` (text mode) or loaded in process (EditScore's ``local`` backend);
- :func:`build_tiny_gguf`: a 2-layer llama GGUF whose first answer token is "Yes" with logit 5 and "No" with
  logit 4, so a yes/no logprob judge reads P(Yes) / (P(Yes) + P(No)) = sigmoid(1) — served by llama-cpp-python;
  or one whose whole answer, with chosen logits at chosen steps, is designed (a labelled-scores judge's logprobs).

Both zero every block's output projections (attention output, MLP down), so the last position's hidden state is
the embedding of the last token read; the output head then maps chosen tokens to chosen next tokens.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

#: What the tiny VLM answers: a score list EditScore's parser reads as [4, 3] and a level parser as 4.
VLM_ANSWER = "[4, 3]"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>"]  # fmt: skip
MERGES = [("Y", "e"), ("Ye", "s"), ("N", "o")]  # "Yes" and "No" single tokens
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] in ('image', 'image_url') %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _byte_chars() -> list[str]:
    """The byte-level BPE alphabet, one character per byte value 0..255."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    table = bytes_to_unicode()
    return [table[b] for b in range(256)]


def _vocab() -> list[str]:
    return [*_byte_chars(), *("".join(m) for m in MERGES), *SPECIALS]


def build_tiny_vlm(directory: str | Path, answer: str | list[str] = VLM_ANSWER) -> Path:
    """1. byte-level tokenizer + Qwen2-VL image processor (≤ 112² px, ≤ 16 tokens an image) + chat template;
    2. a random 2-layer Qwen2.5-VL; 3. zero the blocks' outputs and wire the head: after "\\n" (the end of the
    generation prompt) comes ``answer[0]``, after ``answer[i]`` comes ``answer[i+1]``, then ``<|im_end|>``.

    ``answer`` is a string of distinct characters (one token each), or a list of distinct pieces, each added to
    the vocabulary as one token (no merge reaches them, so prompts never contain them): an answer with repeated
    characters, such as score lines."""
    from transformers import (
        GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2Tokenizer,
        Qwen2VLImageProcessor, Qwen2VLVideoProcessor,
    )  # fmt: skip

    directory = Path(directory)
    # step 1
    byte = _byte_chars()
    as_token = lambda text: "".join(byte[b] for b in text.encode())  # noqa: E731
    pieces = [as_token(piece) for piece in answer]  # the answer's tokens, in byte-level form
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*_vocab(), *pieces]))}
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=MERGES, unk_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIALS[1:],
    )  # fmt: skip
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size={"shortest_edge": 56 * 56, "longest_edge": 112 * 112}),
        tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor(), chat_template=CHATML,
    )  # fmt: skip
    ids = {s: vocab[s] for s in SPECIALS}
    # step 2
    D = 16
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": D, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "num_key_value_heads": 2, "vocab_size": len(vocab), "max_position_embeddings": 4096,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "bos_token_id": ids["<|im_start|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": False,
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": D,
                       "fullatt_block_indexes": [1], "window_size": 112},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    # step 3
    chain = [as_token("\n"), *pieces]  # the token read → the token to answer next
    nexts = [*(vocab[piece] for piece in pieces), ids["<|im_end|>"]]
    assert len(set(chain)) == len(chain) <= D, "the answer's tokens must be distinct (at most 15)"
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.split(".")[-1] in ("o_proj", "down_proj") and "visual" not in name:
                module.weight.zero_()
        embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight  # [V, D] each
        head.mul_(0.02)
        for k, (char, target) in enumerate(zip(chain, nexts)):
            basis = torch.zeros(D)
            basis[k] = 1.0
            embed[vocab[char]] = basis * math.sqrt(D)  # RMS 1, so the final norm leaves it as is
            head[target] += 40.0 * basis / math.sqrt(D)  # logit 40 for the next token
    model.generation_config = GenerationConfig(
        eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], do_sample=False, max_new_tokens=16
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def build_tiny_gguf(path: str | Path, answer: list[dict[str, float]] | None = None, context: int = 512) -> Path:
    """1. byte-level BPE vocabulary + ChatML template; 2. random weights with the blocks' outputs zeroed; 3. the
    head rows of "Yes" and "No" set so that their logits after the last prompt token ("\\n") are 5 and 4.

    With ``answer``, step 3 designs a whole answer instead: step i gives the logits of some tokens (each a text,
    added to the vocabulary as one token when it is not one) after the token greedily chosen at step i − 1 (after
    "\\n" for the first), every other token's logit being 0 there; the chosen tokens (each step's argmax) must be
    distinct; ``<|im_end|>`` follows the last. ``context``: the model's context length in tokens."""
    import gguf

    path = Path(path)
    # step 1
    byte = _byte_chars()
    as_token = lambda text: "".join(byte[b] for b in text.encode())  # noqa: E731
    base = _vocab()[: 256 + len(MERGES)]
    extra = [t for t in dict.fromkeys(as_token(k) for step in answer or [] for k in step) if t not in base]
    tokens = [*base, *extra, "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [gguf.TokenType.NORMAL] * (len(base) + len(extra)) + [gguf.TokenType.CONTROL] * 3
    V, D, L, H, KV, FF = len(tokens), 32, 2, 4, 2, 64
    hd = D // H
    # The standard ChatML template, character for character: llama.cpp recognises it and formats with its own
    # chatml handler, which flattens OpenAI content lists (a custom template would see a list and fail).
    template = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("editrl-tiny-yes-no")
    writer.add_context_length(context)
    writer.add_embedding_length(D)
    writer.add_block_count(L)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(H)
    writer.add_head_count_kv(KV)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_dimension_count(hd)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(V)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(m) for m in MERGES])
    writer.add_bos_token_id(tokens.index("<|im_start|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_pad_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(template)
    # step 2
    rng = np.random.default_rng(0)
    rand = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)  # noqa: E731
    embed = rand(V, D)
    head = rand(V, D) * 0.05
    # step 3: h = RMSNorm(embedding of "\n"); head row · h = logit
    x = embed[tokens.index(_byte_chars()[ord("\n")])]
    h = x / np.sqrt((x**2).mean() + 1e-6)
    head[tokens.index("Yes")] = 5.0 * h / (h @ h)
    head[tokens.index("No")] = 4.0 * h / (h @ h)
    if answer is not None:
        # step i's context token embeds as √D·e_i (RMS 1: RMSNorm gives h_i = e_i·√D/√(1 + ε)); column i of
        # the head holds the step's logits / h_i[i] and zeros elsewhere, so each logit is exact
        steps = [*answer, {"<|im_end|>": 40.0}]
        assert len(steps) <= D, f"at most {D - 1} answer steps"
        head[:, : len(steps)] = 0.0
        h_i = math.sqrt(D) / math.sqrt(1 + 1e-6)
        token_id = lambda text: tokens.index(text if text.startswith("<|") else as_token(text))  # noqa: E731
        read = as_token("\n")
        chosen = [read, *(as_token(max(step, key=step.get)) for step in answer)]
        assert len(set(chosen)) == len(chosen), "each step's chosen token must be new (the model reads one token)"
        for i, (read, step) in enumerate(zip(chosen, steps)):
            embed[tokens.index(read)] = 0.0
            embed[tokens.index(read), i] = math.sqrt(D)
            for text, logit in step.items():
                head[token_id(text), i] = logit / h_i
    writer.add_tensor("token_embd.weight", embed)
    writer.add_tensor("output_norm.weight", np.ones(D, np.float32))
    writer.add_tensor("output.weight", head.astype(np.float32))
    for i in range(L):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(D, np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", rand(D, D))
        writer.add_tensor(f"blk.{i}.attn_k.weight", rand(KV * hd, D))
        writer.add_tensor(f"blk.{i}.attn_v.weight", rand(KV * hd, D))
        writer.add_tensor(f"blk.{i}.attn_output.weight", np.zeros((D, D), np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(D, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", rand(FF, D))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", rand(FF, D))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", np.zeros((D, FF), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
