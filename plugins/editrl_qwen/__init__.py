"""editrl plugin: Qwen-Image-Edit (Qwen/Qwen-Image-Edit, -2509, -2511) through diffusers (the ``qwen_image_edit``
backbone).

Heavy libraries (diffusers, transformers) are imported only when the backbone is used, so listing plugins stays fast.
``editrl_qwen.tiny.build_tiny_qwen_edit(dir, plus=...)`` writes a tiny random pipeline for offline tests and trials.
"""

from editrl import hookimpl
from editrl_qwen.backbone import QwenCondition, QwenImageEdit, QwenImageEditConfig

__all__ = ["QwenCondition", "QwenImageEdit", "QwenImageEditConfig"]


@hookimpl
def editrl_register_components(registry):
    registry.add(QwenImageEdit)
