"""Does scoring by a served judge overlap the rollouts? And how many requests per second does a real tiny judge
server answer at each ``concurrency``?

1. Overlap. The toy recipe's step is timed with a zero-cost local reward, then with ``mllm_judge`` pointed at a
   loopback judge server that answers every request after a fixed latency: (a) the rollout time of one group (the
   candidates a request's row belongs to), all requests in flight at once; (b) the rollout time of one row, one
   request at a time. The engine rolls out in two halves and sends the first half's requests while the second half
   rolls out, so only the second half's share should show: target step ratio ≤ 1.15.
2. Throughput. llama-cpp-python's server on the designed tiny GGUF (editrl_judges.tiny) answers 128 yes/no logprob
   requests at concurrency 1, 2, 4, 8 (skipped when llama-cpp-python is not installed).

    python benchmarks/judge_overlap.py [--steps 4]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer
from editrl.interfaces import Reward, RewardOutput
from editrl_judges.local_servers import ServerProcess, free_port, start_llama_server

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "toy" / "neighbor_grpo.yaml"
ANSWER = {"choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "Yes"},
                       "logprobs": {"content": [{"token": "Yes", "logprob": -0.3133, "top_logprobs": [
                           {"token": "Yes", "logprob": -0.3133}, {"token": "No", "logprob": -1.3133}]}]}}]}  # fmt: skip


class ZeroReward(Reward):
    """A local reward of no cost (the baseline step)."""

    name = "zero"

    def score(self, inputs):
        return RewardOutput(values=torch.zeros(inputs.images.shape[0]))


def slow_judge(latency_s: float, log: Path) -> ServerProcess:
    """An OpenAI-shaped judge answering every chat completion after ``latency_s`` (concurrently), in a process of its
    own, as a real server would be: its event loop must not compete with the trainer for this interpreter."""
    port = free_port()
    return ServerProcess([sys.executable, __file__, "--serve", str(port), str(latency_s)], port, "/v1/models", log)


def serve(port: int, latency_s: float) -> None:
    """``--serve PORT LATENCY``: the stub judge's process."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                length = next((int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")), 0)
                await reader.readexactly(length)
                if "/chat/completions" in lines[0]:
                    await asyncio.sleep(latency_s)
                body = json.dumps(ANSWER).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def trainer(out: Path, rewards_override: str | None, zero: bool) -> Trainer:
    overrides = [f"output_dir={out}", "train.save_every=0", "eval.at_end=false"]
    if rewards_override:
        overrides.append(rewards_override)
    cfg, registry = load_recipe(RECIPE, overrides)
    components = build_components(cfg, registry)
    if zero:
        components.rewards = [ZeroReward(ZeroReward.Config())]
    t = Trainer(cfg, components)
    t.setup()
    return t


def overlap(steps: int) -> None:
    """The trainers are built first, then their steps alternate (after a warm-up each), so that load from other
    processes on the machine hits all alike; medians are compared. Two served judges, each with a total amount of
    work equal to the rollout: (a) every request takes one group's rollout time, all in flight at once; (b) a serial
    judge (concurrency 1) whose requests each take one row's rollout time."""
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        zero = trainer(Path(tmp) / "zero", None, zero=True)
        zero.train_step()  # warm-up
        groups, rows = zero.recipe.train.batch_size, zero.recipe.train.batch_size * zero.recipe.exploration.group_size
        rollout = statistics.median(zero.train_step()["time/rollout_s"] for _ in range(3))  # calibrates the judges
        settings = {"per-group latency, concurrency 256": (rollout / groups, 256),
                    "per-row latency, concurrency 1": (rollout / rows, 1)}  # fmt: skip
        served, judges = {}, []
        for name, (latency, concurrency) in settings.items():
            judge = slow_judge(latency, Path(tmp) / f"judge_{len(judges)}.log")
            judges.append(judge)
            reward = json.dumps({"type": "mllm_judge", "base_url": judge.base_url, "model": "slow",
                                 "template": "yes_no", "max_tokens": 1, "concurrency": concurrency})  # fmt: skip
            served[name] = trainer(Path(tmp) / name.replace(" ", "_").replace(",", ""), f"rewards=[{reward}]", False)
            served[name].train_step()  # warm-up
        base: list[dict] = []
        judged: dict[str, list[dict]] = {name: [] for name in served}
        for _ in range(steps):
            base.append(zero.train_step())
            for name, t in served.items():
                judged[name].append(t.train_step())
        med = lambda rows, key: statistics.median(m[key] for m in rows)  # noqa: E731
        step = med(base, "time/step_s")
        print(f"zero-cost local reward: step {step:.3f} s (rollout {med(base, 'time/rollout_s'):.3f} s, "
              f"{groups} groups, {rows} rows); {steps} alternating steps each, medians")  # fmt: skip
        for name, (latency, concurrency) in settings.items():
            m = judged[name]
            no_overlap = step + latency * math.ceil(rows / concurrency)  # every request sent after the rollout
            print(f"served judge, {name} ({latency * 1000:.0f} ms a request): step {med(m, 'time/step_s'):.3f} s "
                  f"(rollout {med(m, 'time/rollout_s'):.3f} s, waiting {med(m, 'time/reward_s'):.3f} s, "
                  f"training {med(m, 'time/train_s'):.3f} s vs {med(base, 'time/train_s'):.3f} s)")  # fmt: skip
            print(f"  ratio {med(m, 'time/step_s') / step:.3f} (target ≤ 1.15; sending after the rollout would give "
                  f"≈ {no_overlap / step:.2f})")
        for judge in judges:
            judge.stop()


def throughput() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        print("throughput: skipped, llama-cpp-python is not installed")
        return
    from editrl_judges.mllm_judge import MllmJudge, MllmJudgeConfig
    from editrl_judges.tiny import build_tiny_gguf
    from editrl.interfaces import RewardInputs

    with tempfile.TemporaryDirectory() as tmp:
        gguf = build_tiny_gguf(Path(tmp) / "tiny.gguf")
        server = start_llama_server(gguf, Path(tmp) / "llama.log")
        try:
            M = 128
            inputs = RewardInputs(tasks=["add"] * M, images=torch.rand(M, 3, 64, 64), source=torch.rand(M, 3, 64, 64),
                                  instructions=["add a red square"] * M)  # fmt: skip
            print("llama-cpp-python server, designed tiny GGUF, 128 yes/no logprob requests:")
            for concurrency in (1, 2, 4, 8):
                reward = MllmJudge(MllmJudgeConfig(base_url=server.base_url, model="tiny",
                                                   template="yes_no", max_tokens=1, concurrency=concurrency))  # fmt: skip
                reward.load(torch.device("cpu"))
                reward.score(inputs)  # warm-up
                rates = []
                for _ in range(3):
                    start = time.perf_counter()
                    out = reward.score(inputs)
                    rates.append(M / (time.perf_counter() - start))
                    assert out.valid_mask.all() and abs(float(out.values[0]) - 1 / (1 + math.exp(-1))) < 1e-6
                print(f"  concurrency {concurrency}: {statistics.median(rates):6.1f} requests/s (median of 3)")
                reward.client.close()
        finally:
            server.stop()


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per setting (after one warm-up)")
    args = parser.parse_args()
    overlap(args.steps)
    throughput()


if __name__ == "__main__":
    main()
