"""RC-GRPO-Editing: region-decoupled perturbation and the attention-concentration reward.

The masked, region-normalised surrogate policy it uses is registered by ``editrl_neighbor_grpo`` as ``masked``.
"""

from editrl import hookimpl
from editrl_rc_grpo.acd import AttentionConcentration
from editrl_rc_grpo.rdp import RegionDecoupledPerturbation


@hookimpl
def editrl_register_components(registry):
    registry.add(RegionDecoupledPerturbation)
    registry.add(AttentionConcentration)
