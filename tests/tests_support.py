"""Source of a third-party plugin module used by discovery and CLI tests."""

FAKE_PLUGIN = '''
import torch
from pydantic import Field
from editrl import hookimpl
from editrl.interfaces import Reward, RewardConfig, RewardOutput


class BrightnessConfig(RewardConfig):
    target: float = Field(0.5, ge=0, le=1)
    """Preferred mean brightness."""


class Brightness(Reward):
    """Negative distance of the mean brightness to a target (a third-party test reward)."""

    name = "brightness"
    Config = BrightnessConfig

    def score(self, inputs):
        return RewardOutput(values=-(inputs.images.mean(dim=(1, 2, 3)) - self.config.target).abs())


@hookimpl
def editrl_register_components(registry):
    registry.add(Brightness)
'''
