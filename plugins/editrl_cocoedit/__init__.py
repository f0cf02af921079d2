"""CoCoEdit on editrl: the DiffusionNFT optimiser (docs/method.md §7) and CoCoEdit's region regularisers (§8).

``diffusion_nft`` rolls out under θ_old (a second, non-trained LoRA adapter, soft-updated after each step and
checkpointed with the trained one) and provides x̂⁺_0 / x̂⁻_0 in its loss chunks; ``cocoedit_region`` reads them.
CoCoEdit's pixel-similarity reward is ``cocoedit_similarity`` in ``editrl_pixel``.
"""

from editrl import hookimpl
from editrl_cocoedit.nft import DiffusionNft
from editrl_cocoedit.region import CocoEditRegion


@hookimpl
def editrl_register_components(registry):
    registry.add(DiffusionNft)
    registry.add(CocoEditRegion)
