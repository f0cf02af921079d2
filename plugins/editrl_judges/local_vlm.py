"""EditScore's ``local`` backend: a transformers Qwen2.5-VL (+ the EditScore LoRA through peft) in this process.

It answers the same questions as a server would, as chat-completion choices, so one reader parses both.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from editrl.errors import ResourceError


class LocalVlm:
    """``generate(images, text, seed)`` → a choice dict ``{"message": {"content"}, "finish_reason"}``."""

    def __init__(self, model: str, lora: str | None, label: str) -> None:
        self.model_name, self.lora, self.label = model, lora, label

    def load(self, device: torch.device) -> None:
        """1. processor and model (bf16 on CUDA, fp32 on CPU); 2. the LoRA adapter; 3. eval mode on ``device``."""
        from peft import PeftModel
        from transformers import AutoModelForImageTextToText, AutoProcessor

        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        try:  # step 1
            self.processor = AutoProcessor.from_pretrained(self.model_name)
            model = AutoModelForImageTextToText.from_pretrained(self.model_name, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise ResourceError(f"{self.label}.model: cannot load {self.model_name!r} ({exc})") from None
        if self.lora is not None:  # step 2
            try:
                model = PeftModel.from_pretrained(model, self.lora)
            except (OSError, ValueError) as exc:
                raise ResourceError(f"{self.label}.lora: cannot load the adapter {self.lora!r} ({exc})") from None
        self.model = model.to(device).eval()  # step 3
        self.device = device

    @torch.no_grad()
    def generate(
        self, images: list[Image.Image], text: str, *, seed: int, max_tokens: int, temperature: float, top_p: float
    ) -> dict[str, Any]:
        """One answer; sampling is seeded without touching the caller's RNG streams."""
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]
        prompt = self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )
        batch = self.processor(text=[prompt], images=images, return_tensors="pt").to(self.device)
        sample = temperature > 0
        options = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 20} if sample else {
            "do_sample": False
        }
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            out = self.model.generate(**batch, max_new_tokens=max_tokens, **options)  # [1, T + new]
        new = out[0, batch["input_ids"].shape[1] :]  # [new]
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        finished = len(new) < max_tokens or int(new[-1]) in eos
        answer = self.processor.decode(new, skip_special_tokens=True)
        return {"message": {"role": "assistant", "content": answer}, "finish_reason": "stop" if finished else "length"}
