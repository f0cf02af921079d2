"""Server faults: each handled and counted, never a lost step; a server down at start fails before the first
rollout; one that dies mid-run costs retries, then invalid rows, then a checkpoint and a stop that says how to resume.
The faults are real: a loopback proxy in front of the llama server, or the server process killed by PID."""

from __future__ import annotations

import json
import threading
import time

import pytest
import torch

from tests_support import TINY, TOY_RECIPE, read_metrics
from editrl_judges.local_servers import free_port
from editrl.interfaces import RewardInputs
from editrl_judges.mllm_judge import MllmJudge, MllmJudgeConfig

FAST = {"retries": 1, "backoff_s": 0.05, "timeout_s": 0.5}


def rows(M: int = 4) -> RewardInputs:
    g = torch.Generator().manual_seed(0)
    return RewardInputs(tasks=["add"] * M, images=torch.rand(M, 3, 24, 24, generator=g),
                        source=torch.rand(M, 3, 24, 24, generator=g), instructions=["add a cat"] * M)  # fmt: skip


def judge(base_url: str, **fields) -> MllmJudge:
    reward = MllmJudge(MllmJudgeConfig(base_url=base_url, model="tiny", template="yes_no", max_tokens=1, **fields))
    reward.load(torch.device("cpu"))
    return reward


@pytest.mark.parametrize(
    "fault, mode, reason",
    [
        ("garble", "logprob", "malformed_json"),
        ("drop", "logprob", "dropped"),
        ("delay", "logprob", "timeout"),
        ("http_500", "logprob", "http_5xx"),
        ("no_logprobs", "logprob", "no_logprobs"),
        ("truncate", "text", "truncated"),
    ],
)
def test_each_fault_is_an_invalid_row_with_its_reason(proxy, fault, mode, reason):
    proxy.set(fault, delay_s=1.0)
    out = judge(proxy.base_url, mode=mode, **FAST).score(rows())
    assert out.invalid_counts() == {reason: 4} and torch.isnan(out.values).all()
    transit = reason in ("malformed_json", "dropped", "timeout", "http_5xx")
    # failures in transit are retried (retries=1: two attempts each), answers that arrived are not
    assert proxy.seen == (8 if transit else 4)
    assert out.counters == ({f"retried/{reason}": 4.0} if transit else {})


def test_concurrency_bounds_the_requests_in_flight_and_the_connections(proxy):
    """12 rows at concurrency 3, each answer held 0.2 s: 3 requests are in flight at a time, over 3 kept-alive
    connections (one per request in flight, reused by the next), and every row is scored."""
    proxy.set("delay", delay_s=0.2)
    reward = judge(proxy.base_url, concurrency=3, timeout_s=5.0)
    before = proxy.connections  # the start-up check's GET opened one
    out = reward.score(rows(12))
    assert out.valid_mask.all() and proxy.seen == 12
    assert proxy.peak == 3
    assert proxy.connections - before == 3


def test_a_retried_fault_recovers_and_is_counted(proxy):
    proxy.set("http_500", count=3)  # the first 3 requests fail once, their retries pass
    out = judge(proxy.base_url, **FAST).score(rows())
    assert out.valid_mask.all() and out.counters == {"retried/http_5xx": 3.0}


def test_invalid_rows_in_a_training_step_cost_no_step(cli, proxy, tmp_path):
    proxy.set("no_logprobs", count=3)  # 3 of step 1's 8 rows come back without logprobs
    out = tmp_path / "run"
    # the fault is dealt on arrival at the proxy: an answer slower than timeout_s (8 requests queued at the server's
    # one slot while the rollout takes the cores) would time out and its clean retry would pass, so FAST's 0.5 s
    # timeout is too tight here
    reward = json.dumps({"type": "mllm_judge", "base_url": proxy.base_url, "model": "tiny", "template": "yes_no",
                         "max_tokens": 1, **FAST, "timeout_s": 10.0})  # fmt: skip
    result = cli("run", TOY_RECIPE, *TINY, f"rewards=[{reward}]", "train.steps=1", "eval.at_end=false",
                 f"output_dir={out}")  # fmt: skip
    assert result.exit_code == 0, result.output
    step = read_metrics(out)[0]
    judged = {k: v for k, v in step.items() if k.startswith("reward/")}  # what happened, should this fail
    assert step.get("reward/mllm_judge/invalid/no_logprobs") == 3 and step.get("reward/invalid_rows") == 3, judged
    assert step["skipped_steps"] == 0 and "loss" in step


def test_unreachable_server_fails_before_the_first_rollout(cli, tmp_path):
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    reward = json.dumps({"type": "editscore", "base_url": base_url})
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, f"rewards=[{reward}]", f"output_dir={out}")
    assert result.exit_code == 2
    assert f"editscore.base_url: the judge server at {base_url} does not answer" in result.output
    assert "Traceback" not in result.output and not (out / "metrics.jsonl").exists()


def test_server_dying_mid_run_gives_invalid_rows_then_a_checkpointed_stop(cli, own_llama_server, tmp_path):
    out = tmp_path / "run"
    reward = json.dumps({"type": "mllm_judge", "base_url": own_llama_server.base_url, "model": "tiny",
                         "template": "yes_no", "max_tokens": 1, "retries": 2, "backoff_s": 0.2, "timeout_s": 2.0,
                         "max_down_s": 3.0})  # fmt: skip  (margin: a step on 2 busy cores takes 1–2 s)

    def kill_after_first_step() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().strip():
                own_llama_server.stop()  # by PID
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_first_step, daemon=True)
    killer.start()
    result = cli("run", TOY_RECIPE, *TINY, f"rewards=[{reward}]", "train.steps=30", "eval.at_end=false",
                 f"output_dir={out}")  # fmt: skip
    killer.join(5)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"the judge server at {own_llama_server.base_url} has answered nothing for" in message
    assert "resume=true" in message and "Traceback" not in result.output
    steps = read_metrics(out)
    assert steps[0]["reward/mllm_judge/invalid_rows"] == 0  # step 1 ran before the kill
    down = [s for s in steps[1:] if s.get("reward/mllm_judge/invalid_rows", 0) > 0]
    assert down, "no step completed with the server down (retries, then invalid rows)"
    assert all(s["skipped_steps"] == 0 for s in steps)
    latest = (out / "checkpoints" / "latest").read_text().strip()
    assert latest == f"step_{steps[-1]['step']:06d}" and f"checkpoint {latest} saved" in message
