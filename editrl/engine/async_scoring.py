"""Scoring while rolling out: served judges get each rollout micro-batch's rows as soon as they are decoded.

A reward whose :attr:`~editrl.interfaces.Reward.overlaps` is True waits on a remote service. The trainer integrates
``train.rollout_batch_size`` rows at a time and submits every micro-batch's rows as soon as they are decoded, so
their requests are in flight, on worker threads, while later rows integrate; every such term runs concurrently
with the others, and the local rewards run on the calling thread (after the last rollout) while the remote ones wait.
Without an overlapping reward nothing changes: rewards are called in order on the calling thread after the rollout.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses


from editrl.interfaces import EditBatch, Reward, RewardInputs, RewardOutput


def example_rows(batch: EditBatch, start: int, stop: int) -> EditBatch:
    """Examples ``start .. stop−1`` of a batch (every per-example field sliced)."""
    cut = lambda x: None if x is None else x[start:stop]  # noqa: E731
    return dataclasses.replace(
        batch, ids=batch.ids[start:stop], source=batch.source[start:stop], instructions=batch.instructions[start:stop],
        mask=cut(batch.mask), target=cut(batch.target), descriptions=cut(batch.descriptions),
        tasks=batch.tasks[start:stop],
    )  # fmt: skip


class StepScorer:
    """One step's scoring. ``submit`` hands a micro-batch's rows to the overlapping rewards; ``finish`` scores the
    rest and returns one output per reward term, in recipe order, rows in order.

    Use as a context manager: leaving it shuts its worker threads down (requests still queued are cancelled).
    """

    def __init__(self, rewards: list[Reward]) -> None:
        self.rewards = rewards
        self.remote = [i for i, r in enumerate(rewards) if r.overlaps]
        self.futures: dict[int, list[cf.Future[RewardOutput]]] = {i: [] for i in self.remote}
        self.pool = cf.ThreadPoolExecutor(max_workers=32, thread_name_prefix="editrl-reward") if self.remote else None

    @property
    def overlapping(self) -> bool:
        """Whether any reward overlaps (then the trainer submits each micro-batch's rows)."""
        return bool(self.remote)

    @property
    def needs(self) -> frozenset[str]:
        """What the overlapping rewards need in a micro-batch's inputs."""
        return frozenset().union(*(self.rewards[i].requires for i in self.remote)) if self.remote else frozenset()

    def submit(self, inputs: RewardInputs) -> None:
        """Start every overlapping reward on these rows (the next rows after those already submitted)."""
        assert self.pool is not None
        for i in self.remote:
            self.futures[i].append(self.pool.submit(self.rewards[i].score, inputs))

    def finish(self, inputs: RewardInputs) -> list[RewardOutput]:
        """1. overlapping rewards that got no micro-batch get every row now; 2. local rewards on this thread;
        3. wait for the overlapping ones and join their micro-batches (a failure is raised after all have ended)."""
        # step 1
        for i in self.remote:
            if not self.futures[i]:
                self.futures[i].append(self.pool.submit(self.rewards[i].score, inputs))  # type: ignore[union-attr]
        # step 2
        outputs: dict[int, RewardOutput] = {}
        for i, reward in enumerate(self.rewards):
            if i not in self.futures:
                outputs[i] = reward.score(inputs)
        # step 3
        pending = [f for fs in self.futures.values() for f in fs]
        cf.wait(pending)
        for i, fs in self.futures.items():
            parts = [f.result() for f in fs]
            outputs[i] = parts[0] if len(parts) == 1 else RewardOutput.concat(parts)
        return [outputs[i] for i in range(len(self.rewards))]

    def __enter__(self) -> StepScorer:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)
