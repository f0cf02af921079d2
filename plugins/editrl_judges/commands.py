"""``editrl judge check RECIPE``: one question to every judge of a recipe, showing the parsed score, the latency and
exactly what was sent (images abbreviated, the key redacted)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from editrl.interfaces import RewardInputs

judge_app = typer.Typer(
    name="judge", help="Served judges (mllm_judge, editscore, gedit, imgedit): check a recipe's servers.",
    no_args_is_help=True, add_completion=False,
)


def probe_inputs(size: int = 64) -> RewardInputs:
    """One synthetic edit: a grey gradient and the same image with a red square, "add a red square"."""
    ramp = torch.linspace(0.2, 0.8, size)  # [S]
    source = ramp[None, None, :].expand(3, size, size).clone()  # [3, S, S]
    edited = source.clone()
    q = size // 4
    edited[:, q : 3 * q, q : 3 * q] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    return RewardInputs(
        tasks=["add"], images=edited[None], source=source[None], instructions=["add a red square in the middle"]
    )


def shown(body: dict[str, Any]) -> dict[str, Any]:
    """A request body with each image's data URL replaced by its size."""
    out = json.loads(json.dumps(body))
    for message in out.get("messages", []):
        for part in message.get("content", []):
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = part["image_url"]["url"]
                part["image_url"]["url"] = f"{url[:22]}…({len(url)} chars)"
    return out


def sent(reward, inputs: RewardInputs) -> list[dict[str, Any]]:
    from editrl_judges.editscore import EditScore
    from editrl_judges.gedit import GEdit

    if isinstance(reward, GEdit):
        return [shown(b) for b in reward.bodies(inputs)[:2]]
    if isinstance(reward, EditScore):
        questions = reward.questions(inputs)[:2]
        if reward.client is None:
            return [{"local": reward.config.model, "lora": reward.config.lora, "text": q[1]} for q in questions]
        return [shown(b) for b in reward.bodies(questions)]
    return [shown(reward.body(inputs, 0))]


@judge_app.command()
def check(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides", show_default=False)] = None,
) -> None:
    """Send one question to each judge of RECIPE (rewards and eval metrics) and show what came back."""
    from editrl.cli.output import console, user_errors
    from editrl.engine.build import load_recipe
    from editrl_judges.client import redacted_headers
    from editrl_judges.editscore import EditScore
    from editrl_judges.gedit import GEdit
    from editrl_judges.imgedit import ImgEdit
    from editrl_judges.mllm_judge import MllmJudge

    with user_errors():
        cfg, registry = load_recipe(recipe, overrides or [])
        specs = [(f"rewards.{i}", s) for i, s in enumerate(cfg.rewards)]
        specs += [(f"eval.metrics.{i}", s) for i, s in enumerate(cfg.eval.metrics)]
        judges = [(where, registry.get("reward", s.type)(s)) for where, s in specs]
        judges = [(where, r) for where, r in judges if isinstance(r, (MllmJudge, EditScore, GEdit, ImgEdit))]
        if not judges:
            console.print(f"{recipe}: no judge rewards (mllm_judge, editscore, gedit, imgedit) in rewards or "
                          "eval.metrics")
            return
        inputs = probe_inputs()
        for where, reward in judges:
            reward.load(torch.device("cpu"))
            start = time.perf_counter()
            out = reward.score(inputs)
            latency = time.perf_counter() - start
            c = reward.config
            console.print(f"[bold]{where}[/] {reward.name}: {c.model} at "
                          f"{c.base_url if getattr(reward, 'client', None) else 'local'}")  # fmt: skip
            if bool(out.valid_mask[0]):
                extra = "".join(f", {k} {float(v[0]):.4g}" for k, v in out.details.items())
                console.print(f"  score {float(out.values[0]):.4g}{extra}  latency {latency:.3f} s")
            else:
                reason = out.reasons[0] if out.reasons else "unspecified"
                console.print(f"  invalid ({reason})  latency {latency:.3f} s")
            if getattr(reward, "client", None) is not None:
                headers = json.dumps(redacted_headers(reward.client.headers))
                console.print(f"  headers {headers}", markup=False, highlight=False)
            for body in sent(reward, inputs):
                console.print(f"  sent {json.dumps(body, ensure_ascii=False)}", markup=False, highlight=False)
