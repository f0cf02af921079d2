"""Neighbor GRPO: initial-noise neighbourhoods, leaping surrogate policies, the GRPO-clip optimiser.

Also the ``iid`` exploration (plain GRPO sampling), the region-normalised ``masked`` policy RC-GRPO uses, and the
``velocity_kl`` regulariser (optional KL to the frozen base editor).
"""

from editrl import hookimpl
from editrl_neighbor_grpo.exploration import GlobalNeighborhood, IidNoise
from editrl_neighbor_grpo.grpo_clip import GrpoClip
from editrl_neighbor_grpo.policy import EuclideanPolicy, MaskedPolicy
from editrl_neighbor_grpo.velocity_kl import VelocityKL


@hookimpl
def editrl_register_components(registry):
    registry.add(IidNoise)
    registry.add(GlobalNeighborhood)
    registry.add(EuclideanPolicy)
    registry.add(MaskedPolicy)
    registry.add(GrpoClip)
    registry.add(VelocityKL)
