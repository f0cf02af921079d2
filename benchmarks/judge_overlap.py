"""Does scoring by a served judge overlap the rollouts? And how many requests per second does a real tiny judge
server answer at each ``concurrency``?

1. Overlap. The toy recipe's step is timed with a zero-cost local reward, then with ``mllm_judge`` pointed at a
   loopback judge server (its own process) that answers each request after a latency. The target setting is issue
   10's: a judge with one slot (it works on one request at a time; the others queue at the server, as at a server
   with one decoding slot), whose latency per request equals the rollout time of its candidate (one row, with the
   same micro-batches; the stub's latency follows the zero-cost trainer's measured rollouts round by round), so
   scoring takes as long as rolling out. The client posts at ``mllm_judge``'s default concurrency. The engine sends
   each micro-batch's rows (``train.rollout_batch_size``, ``--micro-batch``, default 4 = half a group) as soon as
   they are decoded, so only the last micro-batch's scoring should show after the rollout: target step ratio ≤ 1.15
   against the zero-cost step with the same micro-batches. Also timed: the same latency with the client posting one
   request at a time to a server without slots (the target as measured until session 11: the judge then also waits
   for every round trip of the client), the one-slot judge with the client posting at most two at a time, a
   two-slot judge, the one-slot judge with one group per micro-batch and with every row integrated at once (nothing
   to overlap with), an instant judge (what the protocol itself costs these cores), and what the micro-batches cost; with ``--client-process``, the target setting with the judge's
   client in a process of its own. Each ratio is printed against the zero-cost step with the same micro-batches and
   against the fastest zero-cost step (every row at once). Every trainer runs in a process of its own, as a real
   run's does, and their steps alternate; ``--one-process`` builds them all in this one (the layout until session
   11, which slowed the judged rollouts).
2. Encoding. The request bodies of one EditScore step at 512 px (4 toy examples upscaled, × 12 candidates, Avg@2:
   every row's source and edited image in the SC question and the edited image in the PQ one, per pass), built with
   each distinct picture PNG-encoded once (``editrl_judges.images.data_url``) and with every picture encoded anew.
3. Throughput. llama-cpp-python's server on the designed tiny GGUF (editrl_judges.tiny) answers 128 yes/no logprob
   requests at concurrency 1, 2, 4, 8 (skipped when llama-cpp-python is not installed).

    python benchmarks/judge_overlap.py [--steps 6] [--micro-batch 4] [--client-process] [--one-process] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import contextlib
import dataclasses
import importlib.util
import json
import math
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch

from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer
from editrl.interfaces import Reward, RewardOutput
from editrl_judges.local_servers import ServerProcess, free_port, start_llama_server
from editrl_judges.server import JudgeServerConfig

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


_client_judge = None  # the client process's judge


def _start_client(config: dict) -> None:
    global _client_judge
    torch.set_num_threads(1)
    from editrl_judges.mllm_judge import MllmJudge, MllmJudgeConfig

    _client_judge = MllmJudge(MllmJudgeConfig(**config))
    _client_judge.load(torch.device("cpu"))


def _score_in_client(inputs, pixels):
    return _client_judge.score(dataclasses.replace(inputs, **{k: torch.from_numpy(v) for k, v in pixels.items()}))


class ClientProcessJudge(Reward):
    """``mllm_judge`` with its client (images encoded, requests built and posted) in a spawned process of its own:
    what the trainer would gain if the client's Python work left its interpreter (``--client-process``). The pixels
    cross as numpy arrays: torch tensors sent to a process pool are moved into shared memory, and that slowed this
    machine's rollouts about threefold."""

    name = "mllm_judge"
    requires = frozenset({"images", "source", "instruction"})

    def __init__(self, config: dict) -> None:
        from editrl_judges.mllm_judge import MllmJudgeConfig

        super().__init__(MllmJudgeConfig(**config))
        spawn = multiprocessing.get_context("spawn")
        self.pool = cf.ProcessPoolExecutor(1, mp_context=spawn, initializer=_start_client, initargs=(config,))
        self.pool.submit(time.sleep, 0).result()  # started before the timed steps

    @property
    def overlaps(self) -> bool:
        return True

    def score(self, inputs):
        pixels = {k: getattr(inputs, k).numpy() for k in ("images", "source")}
        light = dataclasses.replace(inputs, images=None, source=None)
        return self.pool.submit(_score_in_client, light, pixels).result()


def slow_judge(latency_s: float, log: Path, slots: int = 0) -> ServerProcess:
    """An OpenAI-shaped judge answering every chat completion after ``latency_s``, in a process of its own, as a real
    server would be: its event loop must not compete with the trainer for this interpreter. With ``slots`` > 0 it
    works on at most that many requests at once and the others queue, as a server with that many decoding slots
    does; 0 answers every request concurrently."""
    port = free_port()
    argv = [sys.executable, __file__, "--serve", str(port), str(latency_s), str(slots)]
    return ServerProcess(argv, port, "/v1/models", log)


def set_latency(judge: ServerProcess, latency_s: float) -> None:
    """Change a running stub judge's latency (``POST /latency``, the seconds as the body)."""
    httpx.post(judge.base_url.removesuffix("/v1") + "/latency", content=repr(latency_s), timeout=10).raise_for_status()


def serve(port: int, latency_s: float, slots: int) -> None:
    """``--serve PORT LATENCY SLOTS``: the stub judge's process."""
    latency = [latency_s]
    slot = asyncio.Semaphore(slots) if slots else contextlib.nullcontext()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                length = next((int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")), 0)
                body = await reader.readexactly(length)
                if lines[0].startswith("POST /latency"):
                    latency[0] = float(body)
                if "/chat/completions" in lines[0]:
                    async with slot:  # a queued request waits for a free slot, then takes the full latency
                        await asyncio.sleep(latency[0])
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


def trainer(out: Path, overrides: list[str], zero: bool, client: dict | None = None) -> Trainer:
    """The toy recipe's trainer with ``overrides``; ``zero``: the zero-cost reward instead; ``client``: the
    ``mllm_judge`` config to run through :class:`ClientProcessJudge`."""
    cfg, registry = load_recipe(RECIPE, [f"output_dir={out}", "train.save_every=0", "eval.at_end=false", *overrides])
    components = build_components(cfg, registry)
    if zero:
        components.rewards = [ZeroReward(ZeroReward.Config())]
    t = Trainer(cfg, components)
    t.setup()
    if client is not None:
        t.c.rewards = [ClientProcessJudge(client)]
    return t


#: The step timings a trainer process reports.
TIMINGS = ("time/step_s", "time/rollout_s", "time/reward_s")


class TrainerProcess:
    """A trainer in a process of its own, stepped on request: each setting's interpreter then holds one trainer and
    one judge client, as a real run's does, while the steps of all settings still alternate."""

    def __init__(self, out: Path, overrides: list[str], zero: bool, threads: int, client: dict | None = None) -> None:
        spec = json.dumps({"out": str(out), "overrides": overrides, "zero": zero, "threads": threads, "client": client})
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", spec], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        self._reply()  # built and set up

    def _reply(self) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(WORKER_PREFIX):
                return line.removeprefix(WORKER_PREFIX)
        raise RuntimeError(f"the trainer process exited with code {self.proc.wait()}")

    def train_step(self) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        return json.loads(self._reply())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


#: Marks the worker's replies among anything else it prints.
WORKER_PREFIX = "@@judge_overlap "


def worker(spec: str) -> None:
    """``--worker SPEC``: a :class:`TrainerProcess`'s process; one step per ``step`` line on stdin."""
    args = json.loads(spec)
    torch.set_num_threads(args["threads"])
    t = trainer(Path(args["out"]), args["overrides"], args["zero"], args["client"])
    print(WORKER_PREFIX + "ready", flush=True)
    for _ in sys.stdin:
        metrics = t.train_step()
        print(WORKER_PREFIX + json.dumps({k: float(metrics[k]) for k in TIMINGS}), flush=True)


def overlap(steps: int, micro_batch: int, client_process: bool = False, threads: int = 2,
            one_process: bool = False) -> None:  # fmt: skip
    """The trainers are built first, each in a process of its own (``one_process``: all in this one), then their
    steps alternate (after a warm-up each), so that load from other processes on the machine hits all alike; medians
    are compared."""
    torch.set_num_threads(threads)

    def build(out: Path, overrides: list[str], zero: bool, client: dict | None = None):
        if one_process:
            return trainer(out, overrides, zero, client)
        return TrainerProcess(out, overrides, zero, threads, client)

    with tempfile.TemporaryDirectory() as tmp:
        cfg, _ = load_recipe(RECIPE, [])
        groups, G = cfg.train.batch_size, cfg.exploration.group_size
        rows = groups * G
        sizes = sorted({rows, G, micro_batch}, reverse=True)  # engine micro-batches (rows integrated together)
        label = lambda r: "all rows" if r == rows else "one group" if r == G else f"{r} rows"  # noqa: E731
        zero = {r: build(Path(tmp) / f"zero_{r}", [f"train.rollout_batch_size={r}"], zero=True) for r in sizes}
        for t in zero.values():
            for _ in range(3):
                t.train_step()  # warm-up: a trainer's first steps are slower than its later ones
        # a paced judge's latency is the rollout time of one row with the same micro-batches: first the median of 5
        # rollouts, then, before each timed round, the median of the zero-cost trainer's timed rollouts so far. It has
        # to follow them: a one-slot judge slower than the rollout falls behind it, one faster has slack, and on these
        # shared cores the rollout's pace moved by 4–20 %, either way, between warm-up and timed steps.
        per_row = {r: statistics.median(t.train_step()["time/rollout_s"] for _ in range(5)) / rows
                   for r, t in zero.items()}  # fmt: skip
        # (name, request latency, client concurrency, engine micro-batch, server slots (0: unlimited))
        mb, default = label(micro_batch), JudgeServerConfig.model_fields["concurrency"].default  # mllm_judge's
        settings = [
            (f"target: one-slot judge, per-row latency, micro-batch {mb}", per_row[micro_batch], default, micro_batch,
             1),
            # one request at a time from the client (the target as measured until session 11): each request then also
            # waits for the client's round trip, so the judge works more slowly than its latency
            (f"per-row latency, client concurrency 1, micro-batch {mb}", per_row[micro_batch], 1, micro_batch, 0),
            # the one-slot judge with the client keeping at most one request queued behind the one in service
            (f"one-slot judge, per-row latency, client concurrency 2, micro-batch {mb}", per_row[micro_batch], 2,
             micro_batch, 1),
            # a judge with two slots scores faster than the rollout produces rows
            (f"two-slot judge, per-row latency, micro-batch {mb}", per_row[micro_batch], default, micro_batch, 2),
            ("one-slot judge, per-row latency, micro-batch one group", per_row[G], default, G, 1),
            ("one-slot judge, per-row latency, every row at once", per_row[rows], default, rows, 1),
            # what talking to a judge costs this machine's cores by itself (images encoded, JSON, HTTP, the server)
            ("no latency, micro-batch one group", 0.0, default, G, 0),
        ]
        if client_process:
            settings.insert(1, ("target setting, the client in a process of its own", per_row[micro_batch], default,
                                micro_batch, 1))  # fmt: skip
        served, judges = {}, []
        for name, latency, concurrency, size, slots in settings:
            judge = slow_judge(latency, Path(tmp) / f"judge_{len(judges)}.log", slots)
            judges.append(judge)
            config = {"type": "mllm_judge", "base_url": judge.base_url, "model": "slow", "template": "yes_no",
                      "max_tokens": 1, "concurrency": concurrency}  # fmt: skip
            own_process = "process of its own" in name
            overrides = [f"rewards=[{json.dumps(config)}]", f"train.rollout_batch_size={size}"]
            client = {k: v for k, v in config.items() if k != "type"} if own_process else None
            # with its client in a process of its own, the trainer is built with the zero-cost reward, then given the
            # ClientProcessJudge in its place
            served[name] = build(Path(tmp) / f"served_{len(judges)}", overrides, own_process, client)
            served[name].train_step()  # warm-up
        base: dict[int, list[dict]] = {r: [] for r in zero}
        judged: dict[str, list[dict]] = {name: [] for name in served}
        paced = {name: [] for name, latency, *_ in settings if latency}  # the latencies each round used
        for _ in range(steps):
            for r, t in zero.items():
                base[r].append(t.train_step())
            for (name, latency, _, size, _), judge in zip(settings, judges):
                if name in paced:
                    paced[name].append(statistics.median(m["time/rollout_s"] for m in base[size]) / rows)
                    set_latency(judge, paced[name][-1])
            for name, t in served.items():
                judged[name].append(t.train_step())
        med = lambda rows_, key: statistics.median(m[key] for m in rows_)  # noqa: E731
        fastest = min(med(m, "time/step_s") for m in base.values())
        print(f"{groups} groups of {G}, {rows} rows; {steps} alternating steps each, medians")
        for r, m in base.items():
            print(f"zero-cost local reward, micro-batch {label(r)}: step {med(m, 'time/step_s'):.3f} s "
                  f"(rollout {med(m, 'time/rollout_s'):.3f} s), {med(m, 'time/step_s') / fastest:.3f}× the fastest")
        for name, latency, concurrency, size, slots in settings:
            m, step = judged[name], med(base[size], "time/step_s")
            latency = statistics.median(paced[name]) if name in paced else latency
            at_once = min(concurrency, slots or concurrency)  # requests the judge works on together
            no_overlap = step + latency * math.ceil(rows / at_once)  # every request sent after the rollout
            ideal = step + latency * math.ceil(min(size, rows) / at_once)  # only the last micro-batch waits
            pace = f", {latency * rows / med(base[size], 'time/rollout_s'):.2f}× the timed rollout's" if latency else ""
            print(f"served judge, {name} ({latency * 1000:.1f} ms a request, median{pace}): step "
                  f"{med(m, 'time/step_s'):.3f} s "
                  f"(rollout {med(m, 'time/rollout_s'):.3f} s, waiting {med(m, 'time/reward_s'):.3f} s)")
            print(f"  ratio {med(m, 'time/step_s') / step:.3f} against the zero-cost step with the same micro-batch"
                  f"{' (target ≤ 1.15)' if name.startswith('target:') else ''}, {med(m, 'time/step_s') / fastest:.3f} "
                  f"against the fastest zero-cost step; scoring after the rollout ≈ {no_overlap / step:.2f}, "
                  f"the ideal overlap ≈ {ideal / step:.2f}")
        for judge in judges:
            judge.stop()
        for t in [*zero.values(), *served.values()]:
            if isinstance(t, TrainerProcess):
                t.close()


def encoding(repeats: int = 3) -> None:
    """CPU time to build one EditScore step's request bodies, pictures encoded once against every time."""
    import torch.nn.functional as F

    from editrl.interfaces import RewardInputs
    from editrl_judges import images
    from editrl_judges.editscore import EditScore, EditScoreConfig
    from editrl_toy.dataset import ToyShapes

    N, G, side = 4, 12, 512
    examples = list(ToyShapes(ToyShapes.Config()).split("eval"))[:N]
    up = lambda x: F.interpolate(x[None], size=(side, side), mode="bilinear", align_corners=False)[0]  # noqa: E731
    sources = torch.stack([up(e.source) for e in examples]).repeat_interleave(G, 0)  # [N·G, 3, 512, 512]
    # each candidate's "edit": its source in another brightness (a distinct picture, as smooth as the source)
    edits = sources * torch.linspace(0.7, 1.0, N * G)[:, None, None, None]  # [N·G, 3, 512, 512]
    inputs = RewardInputs(tasks=["add"] * (N * G), images=edits, source=sources,
                          instructions=[e.instruction for e in examples for _ in range(G)])  # fmt: skip
    judge = EditScore(EditScoreConfig(num_pass=2))
    cached = images.data_url.budget
    timed = {}
    for label, size in (("every picture encoded", 0), ("each distinct picture once", cached)):
        images.data_url.budget = size
        best = math.inf
        for _ in range(repeats):
            images.data_url.clear()
            start = time.process_time()
            bodies = judge.bodies(judge.questions(inputs))
            best = min(best, time.process_time() - start)
        timed[label] = best
        print(f"encoding, {label}: {best * 1000:.0f} ms of CPU for {len(bodies)} requests ({N}×{G} rows at "
              f"{side} px, Avg@2)")
    images.data_url.budget = cached
    print(f"  ratio {timed['every picture encoded'] / timed['each distinct picture once']:.2f}×")


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
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2])
        return
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per setting (after one warm-up)")
    parser.add_argument("--micro-batch", type=int, default=4, help="train.rollout_batch_size of the target setting")
    parser.add_argument("--client-process", action="store_true",
                        help="also time the target setting with the judge's client in a process of its own")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads of the trainers (1 leaves a core of 2 to the judge's client and server)")
    parser.add_argument("--one-process", action="store_true",
                        help="build every trainer in this process (the layout until session 11) instead of one each")
    args = parser.parse_args()
    overlap(args.steps, args.micro_batch, args.client_process, args.threads, args.one_process)
    encoding()
    throughput()


if __name__ == "__main__":
    main()
