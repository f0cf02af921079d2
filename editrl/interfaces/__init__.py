"""The component interfaces. One module per kind; each is a small ABC plus the types it passes around."""

from editrl.interfaces.backbone import Backbone, Condition, shared_field
from editrl.interfaces.dataset import EXAMPLE_FIELDS, EditBatch, EditDataset, EditExample
from editrl.interfaces.exploration import ExplorationConfig, ExplorationScheme, InitialNoise
from editrl.interfaces.optimizer import LossChunk, PolicyOptimizer, Rollout, TrainContext
from editrl.interfaces.policy import SurrogatePolicy
from editrl.interfaces.regularizer import Regularizer, RegularizerConfig
from editrl.interfaces.reward import REWARD_INPUTS, Reward, RewardConfig, RewardInputs, RewardOutput
from editrl.interfaces.solver import Solver, SolverConfig, VelocityFn

__all__ = [
    "Backbone", "Condition", "shared_field", "EXAMPLE_FIELDS", "EditBatch", "EditDataset", "EditExample",
    "ExplorationConfig", "ExplorationScheme", "InitialNoise", "LossChunk", "PolicyOptimizer", "Rollout",
    "TrainContext", "SurrogatePolicy", "Regularizer", "RegularizerConfig", "REWARD_INPUTS", "Reward",
    "RewardConfig", "RewardInputs", "RewardOutput", "Solver", "SolverConfig", "VelocityFn",
]
