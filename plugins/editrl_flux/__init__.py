"""editrl plugin: FLUX.1 Kontext-dev through diffusers (the ``flux_kontext`` backbone).

Heavy libraries (diffusers, transformers) are imported only when the backbone is used, so listing plugins stays fast.
``editrl_flux.tiny.build_tiny_kontext(dir)`` writes a tiny random Kontext pipeline for offline tests and trials.
"""

from editrl import hookimpl
from editrl_flux.backbone import FluxCondition, FluxKontext, FluxKontextConfig

__all__ = ["FluxCondition", "FluxKontext", "FluxKontextConfig"]


@hookimpl
def editrl_register_components(registry):
    registry.add(FluxKontext)
