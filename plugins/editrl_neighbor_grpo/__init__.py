"""Neighbor GRPO: global initial-noise neighbourhoods, the euclidean leaping policy and the GRPO-clip optimiser."""

from editrl import hookimpl
from editrl_neighbor_grpo.grpo_clip import GrpoClip
from editrl_neighbor_grpo.velocity_kl import VelocityKL


@hookimpl
def editrl_register_components(registry):
    registry.add(GrpoClip)
    registry.add(VelocityKL)
