"""The pytest fixtures of ``editrl.testing.fixtures``: small toy-world inputs with the shapes the interfaces declare.

(Imported into this module, which is how a single test file uses them; a plugin's suite enables them all with
``-p editrl.testing.fixtures``, as ``editrl new`` writes into its pyproject.toml.)
"""

from __future__ import annotations

import torch

from editrl.interfaces import RewardInputs, TrainContext
from editrl.testing.fixtures import reward_inputs, rollout, toy_batch, toy_world, train_context  # noqa: F401


def test_toy_batch_and_rollout_shapes(toy_batch, rollout):
    assert len(toy_batch) == 2 and toy_batch.source.shape == (2, 3, 32, 32) and toy_batch.mask.shape == (2, 1, 32, 32)
    r = rollout.rollout
    assert r.final.shape == (2, 4, 3, 32, 32)  # [N, G, C, h, w]
    assert r.states.shape == (3, 2, 4, 3, 32, 32)  # [K + 1, N, G, C, h, w] with K = 2 Euler steps
    assert torch.equal(r.states[0], r.noise.x_T) and torch.equal(r.states[-1], r.final)
    assert rollout.images.shape == (8, 3, 32, 32) and 0 <= float(rollout.images.min()) <= float(rollout.images.max()) <= 1


def test_reward_inputs_hold_only_what_is_required(reward_inputs):
    inputs = reward_inputs({"images", "mask", "attention"}, attention_layers=2)
    assert isinstance(inputs, RewardInputs)
    assert inputs.images.shape == (8, 3, 32, 32) and inputs.mask.shape == (8, 1, 32, 32)
    assert inputs.source is None and inputs.target is None and inputs.instructions is None
    # 2 solver steps × 2 layers of text→image maps over the toy editor's 8×8 target tokens
    assert inputs.attention.shape == (2, 2, 8, 64) and inputs.token_mask.shape == (8, 64)


def test_train_context_has_a_trainable_lora(train_context):
    assert isinstance(train_context, TrainContext)
    params = train_context.lora.trainable_parameters()
    assert params and all(p.requires_grad for p in params)
    # peft starts B at zero: the trained editor equals the base editor until the first update
    b = [p for n, p in train_context.backbone.denoiser.named_parameters() if "lora_B" in n]
    assert b and all(float(p.detach().abs().sum()) == 0 for p in b)
