"""``diffusion_nft.loss_chunks`` on a linear stand-in editor: σ from the rollout's own grid, per-sample subsets,
rows → examples, v_old from θ_old, shares, micro-batches and the group filters."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from editrl.interfaces import Condition, Rollout, TrainContext
from editrl_cocoedit.nft import DiffusionNft
from editrl_cocoedit.objective import adaptive_loss, branch_predictions, nft_rows, optimality
from editrl_cocoedit.old_policy import OLD_ADAPTER

N, G, SHAPE = 3, 4, (2, 3, 3)
SIGMAS = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])  # K = 4 → int(4·0.99) = 3 levels per sample


@dataclasses.dataclass
class RowCond(Condition):
    example: torch.Tensor  # [M] the example each row encodes


class LinearEditor:
    """v = a·x under the trained adapter, b·x under θ_old; the LoRA-free base is 0."""

    def __init__(self) -> None:
        self.a = torch.tensor(1.5, requires_grad=True)
        self.b = 0.5
        self.active = "default"

    def velocity(self, x, sigma, cond):
        return (self.a if self.active == "default" else self.b) * x


class FakeLora:
    def __init__(self, editor: LinearEditor) -> None:
        self.editor = editor

    @contextlib.contextmanager
    def using(self, name):
        assert name == OLD_ADAPTER
        self.editor.active = name
        try:
            yield
        finally:
            self.editor.active = "default"


def candidate(rollout: Rollout, n: int, x0: torch.Tensor) -> int:
    """The index g of the candidate of example n whose final sample is ``x0``."""
    return [torch.equal(x0, rollout.final[n, g]) for g in range(G)].index(True)


def setup(seed: int = 0, **config):
    editor = LinearEditor()
    ctx = TrainContext(backbone=editor, solver=None, policy=None, generator=torch.Generator().manual_seed(seed),
                       lora=FakeLora(editor), base_velocity=lambda x, s, c: torch.zeros_like(x))
    final = torch.randn(N, G, *SHAPE, generator=torch.Generator().manual_seed(1))
    rollout = Rollout(cond=RowCond(example=torch.arange(N)), sigmas=SIGMAS, noise=None, final=final)
    return DiffusionNft(DiffusionNft.Config(**config)), ctx, rollout


def test_chunks_recompute_the_objective_from_their_own_tensors():
    opt, ctx, rollout = setup(micro_batch=5, kl_coef=0.0)
    rewards = torch.arange(N * G, dtype=torch.float32).view(N, G) % 3
    adv, _ = opt.advantages(rewards, ctx.generator)
    chunks = list(opt.loss_chunks(ctx, rollout, adv))
    # 3 slots × ceil(12 / 5) = 3 micro-batches (5, 5, 2 rows)
    assert [c.tensors.rows.shape[0] for c in chunks] == [5, 5, 2] * 3
    assert sum(c.share for c in chunks) == pytest.approx(1.0)
    r_all = optimality(adv, 5.0).flatten()  # [N·G]
    levels: dict[int, list[float]] = {}  # candidate n·G + g → the σ it was trained at
    total = torch.zeros(())
    for chunk in chunks:
        t = chunk.tensors
        assert torch.equal(t.cond.example, t.rows)  # the condition rows are the rows' examples
        # each row's x_0 is a candidate of its own example
        cand = torch.tensor([n * G + candidate(rollout, n, x0) for n, x0 in zip(t.rows.tolist(), t.x0)])
        for c, s in zip(cand.tolist(), t.sigma.tolist()):
            assert s in SIGMAS[:-1].tolist()  # the rollout's own grid, never σ = 0
            levels.setdefault(c, []).append(s)
        torch.testing.assert_close(t.optimality, r_all[cand])
        # the loss from the chunk's own tensors: v_θ = 1.5·x_σ, v_old = 0.5·x_σ
        assert torch.equal(t.velocity, 1.5 * t.x)
        x0_pos, x0_neg = branch_predictions(t.x, t.sigma, 1.5 * t.x, 0.5 * t.x, 1.0)
        torch.testing.assert_close(t.x0_pos, x0_pos)
        torch.testing.assert_close(t.x0_neg, x0_neg)
        expected = 5.0 * nft_rows(t.optimality, adaptive_loss(x0_pos, t.x0), adaptive_loss(x0_neg, t.x0), 1.0).mean()
        torch.testing.assert_close(chunk.loss, expected * chunk.share)
        total = total + chunk.loss
    # every candidate trained at 3 distinct levels of the 4
    assert len(levels) == N * G and all(len(set(v)) == 3 == len(v) for v in levels.values())
    total.backward()
    assert ctx.backbone.a.grad is not None and torch.isfinite(ctx.backbone.a.grad)


def test_each_sample_draws_its_own_levels_and_noise():
    opt, ctx, rollout = setup()
    adv, _ = opt.advantages(torch.randn(N, G, generator=torch.Generator().manual_seed(2)), ctx.generator)
    chunks = list(opt.loss_chunks(ctx, rollout, adv))
    assert len(chunks) == 3  # one chunk per slot, every row in it
    levels = torch.stack([c.tensors.sigma for c in chunks])  # [T, N·G], rows in the same order in every slot
    assert all(len(set(levels[:, i].tolist())) == 3 for i in range(N * G))  # 3 distinct levels per candidate
    assert len({tuple(levels[:, i].tolist()) for i in range(N * G)}) > 1  # subsets differ between candidates
    # x_σ = (1 − σ)·x_0 + σ·ε with fresh ε per slot: at equal σ two slots still differ
    eps = [(c.tensors.x - (1 - c.tensors.sigma.view(-1, 1, 1, 1)) * c.tensors.x0) for c in chunks]
    assert not torch.allclose(eps[0], eps[1])
    # the same generator state replays the same chunks (the run's RNG is checkpointed)
    opt2, ctx2, rollout2 = setup()
    opt2.advantages(torch.randn(N, G, generator=torch.Generator().manual_seed(2)), ctx2.generator)
    again = list(opt2.loss_chunks(ctx2, rollout2, adv))
    assert all(torch.equal(a.tensors.x, b.tensors.x) for a, b in zip(chunks, again))


def test_filtered_groups_leave_the_loss():
    opt, ctx, rollout = setup(filter_std=0.02)
    rewards = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.01]])
    adv, stats = opt.advantages(rewards, ctx.generator)
    assert stats["adv/filtered_groups"] == 2  # groups 0 and 2 have std ≤ 0.02
    chunks = list(opt.loss_chunks(ctx, rollout, adv))
    assert all(set(c.tensors.rows.tolist()) == {1} for c in chunks)
    assert sum(c.share for c in chunks) == pytest.approx(1.0)  # the kept rows carry the whole step
    # a row a reward could not score (NaN) leaves the loss; its group keeps its other rows
    opt2, ctx2, rollout2 = setup()
    rewards = torch.tensor([[0.0, 1.0, float("nan"), 3.0], [0.0, 1.0, 2.0, 3.0], [float("nan")] * 3 + [1.0]])
    adv, stats = opt2.advantages(rewards, ctx2.generator)
    assert stats["adv/filtered_groups"] == 1  # group 2 has one scored row: dead
    rows = {(int(n), int(candidate(rollout2, int(n), x0)))
            for c in opt2.loss_chunks(ctx2, rollout2, adv) for n, x0 in zip(c.tensors.rows, c.tensors.x0)}
    assert rows == {(0, 0), (0, 1), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)}
    # every group filtered: no chunk, no update
    opt.advantages(torch.ones(N, G), ctx.generator)
    assert list(opt.loss_chunks(ctx, rollout, adv)) == []


def test_kl_to_the_base_is_added():
    # v_base = 0, so the KL term is mean(v_θ²) = mean((1.5·x_σ)²); the chunk loss grows by kl_coef·that·share.
    opt, ctx, rollout = setup(kl_coef=0.5)
    adv = torch.zeros(N, G)
    opt.advantages(adv, ctx.generator)
    chunk = next(iter(opt.loss_chunks(ctx, rollout, adv)))
    t = chunk.tensors
    x0_pos, x0_neg = branch_predictions(t.x, t.sigma, 1.5 * t.x, 0.5 * t.x, 1.0)
    policy = 5.0 * nft_rows(t.optimality, adaptive_loss(x0_pos, t.x0), adaptive_loss(x0_neg, t.x0), 1.0).mean()
    expected = policy + 0.5 * (1.5 * t.x).pow(2).mean()
    torch.testing.assert_close(chunk.loss, expected * chunk.share)
    assert chunk.stats["nft/kl"] == pytest.approx(float((1.5 * t.x).pow(2).mean()))
