"""Does scoring by a served judge overlap the rollouts? And how many requests per second does a real tiny judge
server answer at each ``concurrency``?

1. Overlap. The toy recipe's step is timed with a zero-cost local reward, then with ``mllm_judge`` pointed at a
   loopback judge server (its own process) that answers each request after a fixed latency. The target setting is
   issue 10's: every request's latency equals the rollout time of its candidate (one row), served one at a time, so
   scoring a group takes as long as rolling it out. With ``train.rollout_batch_size`` = one group the engine sends
   each group's requests as soon as the group is decoded; only the last group's scoring should show after the
   rollout: target step ratio ≤ 1.15 against the zero-cost step with the same micro-batches. Also printed: the same
   judge with every row integrated at once (nothing to overlap with), a judge with all requests in flight at once,
   and what the micro-batches themselves cost on the toy.
2. Throughput. llama-cpp-python's server on the designed tiny GGUF (editrl_judges.tiny) answers 128 yes/no logprob
   requests at concurrency 1, 2, 4, 8 (skipped when llama-cpp-python is not installed).

    python benchmarks/judge_overlap.py [--steps 6]
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


def trainer(out: Path, overrides: list[str], zero: bool) -> Trainer:
    cfg, registry = load_recipe(RECIPE, [f"output_dir={out}", "train.save_every=0", "eval.at_end=false", *overrides])
    components = build_components(cfg, registry)
    if zero:
        components.rewards = [ZeroReward(ZeroReward.Config())]
    t = Trainer(cfg, components)
    t.setup()
    return t


def overlap(steps: int) -> None:
    """The trainers are built first, then their steps alternate (after a warm-up each), so that load from other
    processes on the machine hits all alike; medians are compared."""
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        cfg, _ = load_recipe(RECIPE, [])
        groups, G = cfg.train.batch_size, cfg.exploration.group_size
        rows = groups * G
        per_group = f"train.rollout_batch_size={G}"
        zero = {"all rows": trainer(Path(tmp) / "zero_all", [], zero=True),
                "one group": trainer(Path(tmp) / "zero_group", [per_group], zero=True)}  # fmt: skip
        for t in zero.values():
            t.train_step()  # warm-up
        # the judges' latency is fixed before the timed steps: the fastest of 5 rollouts, which load from other
        # processes can only lengthen
        rollout = min(zero["one group"].train_step()["time/rollout_s"] for _ in range(5))
        # (name, request latency, judge concurrency, engine micro-batch, baseline it is compared with)
        settings = [
            ("target: per-row latency, concurrency 1, micro-batch = one group", rollout / rows, 1, [per_group], "one group"),
            ("per-row latency, concurrency 1, all rows at once", rollout / rows, 1, [], "all rows"),
            ("per-group latency, concurrency 256, all rows at once", rollout / groups, 256, [], "all rows"),
            # what talking to a judge costs this machine's cores by itself (images encoded, JSON, HTTP, the server)
            ("no latency, concurrency 16, micro-batch = one group", 0.0, 16, [per_group], "one group"),
        ]
        served, judges = {}, []
        for name, latency, concurrency, extra, _ in settings:
            judge = slow_judge(latency, Path(tmp) / f"judge_{len(judges)}.log")
            judges.append(judge)
            reward = json.dumps({"type": "mllm_judge", "base_url": judge.base_url, "model": "slow",
                                 "template": "yes_no", "max_tokens": 1, "concurrency": concurrency})  # fmt: skip
            served[name] = trainer(Path(tmp) / f"served_{len(judges)}", [f"rewards=[{reward}]", *extra], False)
            served[name].train_step()  # warm-up
        base: dict[str, list[dict]] = {name: [] for name in zero}
        judged: dict[str, list[dict]] = {name: [] for name in served}
        for _ in range(steps):
            for name, t in zero.items():
                base[name].append(t.train_step())
            for name, t in served.items():
                judged[name].append(t.train_step())
        med = lambda rows_, key: statistics.median(m[key] for m in rows_)  # noqa: E731
        print(f"{groups} groups of {G}, {rows} rows; {steps} alternating steps each, medians")
        for name, m in base.items():
            print(f"zero-cost local reward, micro-batch = {name}: step {med(m, 'time/step_s'):.3f} s "
                  f"(rollout {med(m, 'time/rollout_s'):.3f} s)")
        print(f"  micro-batches of one group cost {med(base['one group'], 'time/step_s') / med(base['all rows'], 'time/step_s'):.3f}× "
              "the step with every row at once (the toy's small forwards on CPU)")  # fmt: skip
        for name, latency, concurrency, _, against in settings:
            m, step = judged[name], med(base[against], "time/step_s")
            no_overlap = step + latency * math.ceil(rows / concurrency)  # every request sent after the rollout
            print(f"served judge, {name} ({latency * 1000:.0f} ms a request): step {med(m, 'time/step_s'):.3f} s "
                  f"(rollout {med(m, 'time/rollout_s'):.3f} s, waiting {med(m, 'time/reward_s'):.3f} s)")
            print(f"  ratio {med(m, 'time/step_s') / step:.3f} against the zero-cost step with micro-batch = {against}"
                  f"{' (target ≤ 1.15)' if name.startswith('target') else ''}; scoring after the rollout ≈ "
                  f"{no_overlap / step:.2f}, the ideal overlap ≈ {(step + latency * math.ceil(G / concurrency)) / step:.2f}")
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
    parser.add_argument("--steps", type=int, default=6, help="timed steps per setting (after one warm-up)")
    args = parser.parse_args()
    overlap(args.steps)
    throughput()


if __name__ == "__main__":
    main()
