"""LoRA through peft: attach adapters to a backbone's denoiser, switch, copy and disable them."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model, set_peft_model_state_dict
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn

TRAINED = "default"


def lora_config(settings, backbone) -> LoraConfig:
    """peft's config from a recipe's ``lora`` section; no target modules named → the backbone's defaults."""
    targets = settings.target_modules or list(backbone.default_lora_targets)
    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=targets)


class LoraController:
    """The LoRA adapters of one network. ``default`` is the trained adapter; others (θ_old copies) are frozen."""

    def __init__(self, module: nn.Module, config: LoraConfig) -> None:
        self.module = module
        self.config = config
        for p in module.parameters():
            p.requires_grad_(False)
        inject_adapter_in_model(config, module, adapter_name=TRAINED)
        self._upcast(TRAINED)
        if not self.layers():
            raise ValueError(f"lora.target_modules {list(config.target_modules)} matched no module of the backbone")
        self.adapters = [TRAINED]

    def _upcast(self, adapter: str) -> None:
        """Keep adapter weights in float32 whatever the base dtype (AdamW on bf16 weights loses small updates)."""
        for n, p in self.module.named_parameters():
            if "lora_" in n and f".{adapter}." in f".{n}." and p.dtype != torch.float32:
                p.data = p.data.float()

    # -- introspection -----------------------------------------------------------------------------------------
    def layers(self) -> list[BaseTunerLayer]:
        return [m for m in self.module.modules() if isinstance(m, BaseTunerLayer)]

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.module.named_parameters() if f".{TRAINED}." in f".{n}." and "lora_" in n]

    def state_dict(self, adapter: str = TRAINED) -> dict[str, torch.Tensor]:
        """The adapter's weights, keys without the adapter name (peft's save format)."""
        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.module, adapter_name=adapter).items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], adapter: str = TRAINED) -> None:
        result = set_peft_model_state_dict(self.module, state, adapter_name=adapter)
        missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
        if missing:
            raise ValueError(f"LoRA weights do not fit this backbone: unexpected keys {missing[:3]}...")

    # -- adapters ------------------------------------------------------------------------------------------------
    def add_frozen_copy(self, name: str) -> None:
        """Create adapter ``name`` holding a frozen copy of the trained weights (DiffusionNFT's θ_old)."""
        with warnings.catch_warnings():  # a second adapter is the point here, not the accident peft warns about
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            inject_adapter_in_model(self.config, self.module, adapter_name=name)
        self._upcast(name)
        self.adapters.append(name)
        self.load_state_dict(self.state_dict(TRAINED), adapter=name)
        for layer in self.layers():
            layer.set_adapter(TRAINED)  # peft makes the newest adapter active; keep training the default one
        for n, p in self.module.named_parameters():
            if f".{name}." in f".{n}.":
                p.requires_grad_(False)

    @torch.no_grad()
    def blend_into(self, name: str, keep: float) -> None:
        """``θ_name ← keep·θ_name + (1 − keep)·θ_trained`` (soft update of a frozen copy)."""
        trained = dict(self.module.named_parameters())
        for n, p in trained.items():
            if f".{name}." in f".{n}.":
                p.mul_(keep).add_(trained[n.replace(f".{name}.", f".{TRAINED}.")], alpha=1.0 - keep)

    @contextlib.contextmanager
    def using(self, name: str) -> Iterator[None]:
        """Run forwards with adapter ``name`` active instead of the trained one."""
        layers = self.layers()
        for layer in layers:
            layer.set_adapter(name)
        try:
            yield
        finally:
            for layer in layers:
                layer.set_adapter(TRAINED)
                # set_adapter marks the active adapter trainable; keep the frozen copies frozen
            for n, p in self.module.named_parameters():
                if "lora_" in n and f".{TRAINED}." not in f".{n}.":
                    p.requires_grad_(False)

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Run forwards through the base weights alone (LoRA off)."""
        layers = self.layers()
        for layer in layers:
            layer.enable_adapters(False)
        try:
            yield
        finally:
            for layer in layers:
                layer.enable_adapters(True)
