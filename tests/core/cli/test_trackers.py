"""``train.log_with: [tensorboard]``: the metrics of metrics.jsonl and the resolved recipe, read back from the event
files with TensorBoard's own reader."""

from __future__ import annotations

import math

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from tests_support import TINY, TOY_RECIPE, read_metrics


def test_tensorboard_gets_the_metrics_and_the_recipe(cli, tmp_path):
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=2", "eval.at_end=false", "train.log_with=[tensorboard]",
                 f"output_dir={out}")
    assert result.exit_code == 0, result.output
    logs = out / "trackers" / "editrl"
    scalars = EventAccumulator(str(logs))
    scalars.Reload()
    metrics = read_metrics(out)
    numeric = {k for k, v in metrics[0].items() if k != "step" and isinstance(v, (int, float))}
    assert numeric <= set(scalars.Tags()["scalars"])
    for key in ("loss", "reward/toy_judge/mean", "reward/weighted_mean", "skipped_steps", "grad_norm"):
        events = scalars.Scalars(key)
        assert [e.step for e in events] == [1, 2]
        for event, line in zip(events, metrics):
            assert math.isclose(event.value, line[key], rel_tol=1e-6, abs_tol=1e-12), key  # float32 in the file
    # The resolved recipe is the run's hparams (torch's add_hparams writes them to a sub-run of the log dir).
    (hparams_dir,) = [d for d in logs.iterdir() if d.is_dir() and any(d.glob("events.out.tfevents.*"))]
    session = EventAccumulator(str(hparams_dir))
    session.Reload()
    content = session.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["train.steps"].number_value == 2
    assert hparams["exploration.group_size"].number_value == 4
    assert hparams["backbone.type"].string_value == "toy_editor"
    assert '"type": "toy_judge"' in hparams["rewards"].string_value


def test_a_tracker_that_is_not_installed_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("editrl.engine.tracking.get_available_trackers", lambda: [])  # as without wandb installed
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=1", "train.log_with=[wandb]", f"output_dir={tmp_path / 'r'}")
    assert result.exit_code == 2
    assert "train.log_with: wandb is not installed; pip install 'editrl[wandb]'" in result.output
    assert not (tmp_path / "r").exists()
