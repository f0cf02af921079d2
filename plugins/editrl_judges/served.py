"""The base of the rewards a served judge scores: one client per reward, started at load, requests that overlap the
rollout (``Reward.overlaps``)."""

from __future__ import annotations

from typing import ClassVar

import torch

from editrl.interfaces import Reward
from editrl_judges.client import JudgeClient
from editrl_judges.server import JudgeServerConfig


class ServedJudge(Reward):
    """A reward whose every row is a question to an OpenAI-compatible judge server (``config`` is a
    :class:`~editrl_judges.server.JudgeServerConfig`): the client checks the server at ``load`` and keeps the
    requests of a step in flight together, on the engine's worker threads while later rows roll out."""

    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "instruction"})

    def __init__(self, config: JudgeServerConfig) -> None:
        super().__init__(config)
        self.client = JudgeClient(config, label=self.name)

    @property
    def overlaps(self) -> bool:
        return True

    def load(self, device: torch.device) -> None:
        self.client.start()
