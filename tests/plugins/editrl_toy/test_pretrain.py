"""``editrl toy pretrain`` / ``baseline``: deterministic, atomic outputs that the backbone loads; the baseline table."""

from __future__ import annotations

import json

import torch
import typer
from safetensors.torch import load_file
from typer.testing import CliRunner

import editrl_toy
from editrl_toy.backbone import ToyEditor, ToyEditorConfig
from editrl_toy.commands import toy_app
from editrl_toy.dataset import ToyShapes
from editrl_toy.evaluate import ROWS, baseline, markdown_table
from editrl_toy.imperfect import ImperfectionConfig
from editrl_toy.pretrain import META_NAME, WEIGHTS_NAME, PretrainConfig, pretrain

TINY_ARCH = ToyEditorConfig(weights="random", dim=16, depth=1, heads=2, mlp_ratio=1.0)


def test_pretrain_is_deterministic_and_loadable(tmp_path):
    cfg = PretrainConfig(steps=3, batch_size=4, warmup=1, log_every=1)
    lines: list[str] = []
    meta = pretrain(cfg, TINY_ARCH, tmp_path / "a", command="test a", log=lines.append)
    pretrain(cfg, TINY_ARCH, tmp_path / "b", command="test b", log=lambda _: None)
    a, b = (tmp_path / d / WEIGHTS_NAME for d in "ab")
    wa, wb = load_file(str(a)), load_file(str(b))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not list((tmp_path / "a").glob(".*tmp"))  # written atomically, nothing left behind
    saved = json.loads((tmp_path / "a" / META_NAME).read_text())
    assert saved == json.loads(json.dumps(meta))
    assert saved["command"] == "test a" and saved["seed"] == 0 and saved["steps"] == 3
    assert saved["architecture"] == TINY_ARCH.architecture()
    table = saved["final_metrics"]["eval"]
    assert set(table) == set(ROWS) and set(table["base editor"]) == {"add", "remove", "replace", "all"}
    assert any(line.startswith("step 3/3") for line in lines)
    other = pretrain(cfg.model_copy(update={"seed": 1}), TINY_ARCH, tmp_path / "c", "c", log=lambda _: None)
    assert other["final_metrics"]["train_loss"] != meta["final_metrics"]["train_loss"]
    backbone = ToyEditor(TINY_ARCH.model_copy(update={"weights": str(a)}))
    backbone.load(torch.device("cpu"))


def test_imperfect_targets_change_what_is_learned(tmp_path):
    # Same seed, same batches and noise: only the targets differ (partial edits, spill-over, drift), so the loss does.
    cfg = PretrainConfig(steps=2, batch_size=4, warmup=1, log_every=1)
    flawed = cfg.model_copy(update={"imperfection": ImperfectionConfig(strength_min=0.3, spill=1.0, drift=0.08)})
    exact = pretrain(cfg, TINY_ARCH, tmp_path / "exact", "e", log=lambda _: None)
    meta = pretrain(flawed, TINY_ARCH, tmp_path / "flawed", "f", log=lambda _: None)
    assert meta["final_metrics"]["train_loss"] != exact["final_metrics"]["train_loss"]
    assert meta["settings"]["imperfection"] == {"strength_min": 0.3, "spill": 1.0, "spill_radius": 2.0, "drift": 0.08,
                                                "drift_radius": 0.0, "coupling": "independent"}
    assert exact["settings"]["imperfection"]["spill"] == 0.0
    # faults read off each pair's own noise: the same settings otherwise, another loss (the noise is drawn first)
    coupled = pretrain(flawed.model_copy(update={"imperfection": ImperfectionConfig(
        strength_min=0.3, spill=1.0, drift=0.08, coupling="noise")}), TINY_ARCH, tmp_path / "coupled", "n",
        log=lambda _: None)  # fmt: skip
    assert coupled["final_metrics"]["train_loss"] != meta["final_metrics"]["train_loss"]
    assert coupled["settings"]["imperfection"]["coupling"] == "noise"


def test_baseline_rows_bracket_the_editor():
    examples = list(ToyShapes(ToyShapes.Config(eval_size=6)).split("eval"))
    backbone = ToyEditor(TINY_ARCH)
    backbone.load(torch.device("cpu"))
    table = baseline(backbone, examples, steps=2)
    copy, truth = table["copy source"], table["ground truth"]
    for task in ("add", "remove", "replace"):
        assert copy[task]["foreground"] == 0.0 and copy[task]["bg_psnr"] == 100.0 and copy[task]["n"] == 2
        assert truth[task]["foreground"] == 10.0 and truth[task]["overall"] == 10.0
    text = markdown_table(table)
    assert text.count("\n") == 2 + 3 * 4 - 1 and "| base editor | replace | 2 |" in text


def test_commands_register_and_run(tmp_path):
    app = typer.Typer()
    editrl_toy.editrl_register_commands(app)
    assert [g.name for g in app.registered_groups] == ["toy"]
    runner = CliRunner()
    out = tmp_path / "w"
    result = runner.invoke(
        toy_app,
        ["pretrain", "--out", str(out), "--steps", "2", "--dim", "16", "--depth", "1", "--mlp-ratio", "1",
         "--strength-min", "0.5", "--spill", "0.7", "--spill-radius", "1.5", "--drift", "0.04", "--drift-radius", "3",
         "--coupling", "noise"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / META_NAME).read_text())
    assert meta["settings"]["imperfection"] == {"strength_min": 0.5, "spill": 0.7, "spill_radius": 1.5, "drift": 0.04,
                                                "drift_radius": 3.0, "coupling": "noise"}
    assert (out / WEIGHTS_NAME).is_file() and "| base editor | add |" in result.output
    result = runner.invoke(toy_app, ["baseline", "--weights", str(out / WEIGHTS_NAME), "--eval-size", "3"])
    assert result.exit_code == 2 and "does not fit" in result.output  # the default architecture is not the tiny one
    result = runner.invoke(toy_app, ["pretrain", "--out", str(out), "--dim", "10"])
    assert result.exit_code != 0 and "dim" in result.output
    result = runner.invoke(toy_app, ["pretrain", "--out", str(out), "--spill", "3"])
    assert result.exit_code != 0 and "spill" in result.output
    result = runner.invoke(toy_app, ["pretrain", "--out", str(out), "--coupling", "seed"])
    assert result.exit_code != 0 and "coupling" in result.output
