"""The condition cache on the shipped toy editor, through the real CLI where a user would meet it: a second epoch
calls no encoder, a changed instruction, image or padded length misses, a corrupt or truncated shard is re-encoded,
and `editrl data encode` killed with SIGKILL resumes to exactly what an uninterrupted encode writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tests_support import TINY, TOY_RECIPE
from editrl.cache import ConditionCache, DiskStore, backbone_key, example_key
from editrl.cache.keys import batch_keys
from editrl.interfaces import EditBatch, EditExample

#: 4 train examples, batches of 2: one epoch is 2 steps.
SMALL = [*TINY, "dataset.train_size=4", "eval.at_end=false"]


def _toy(**overrides):
    from editrl_toy.backbone import ToyEditor

    backbone = ToyEditor(ToyEditor.Config(**overrides))
    backbone.load(torch.device("cpu"))
    return backbone


def _examples(n: int = 3) -> list[EditExample]:
    g = torch.Generator().manual_seed(0)
    words = ["add a red circle", "remove the blue square", "replace the circle with a green triangle"]
    return [EditExample(f"e{i}", torch.rand(3, 32, 32, generator=g), words[i % 3]) for i in range(n)]


class _Counting:
    """Wraps ``encode_condition`` and records the ids of every call."""

    def __init__(self, monkeypatch, cls):
        self.calls: list[list[str]] = []
        original = cls.encode_condition

        def counted(backbone, batch):
            self.calls.append(list(batch.ids))
            return original(backbone, batch)

        monkeypatch.setattr(cls, "encode_condition", counted)


def _shards(folder: Path) -> dict[str, tuple[dict, dict]]:
    """Every shard under ``folder``: name → (metadata, tensors)."""
    out = {}
    for path in sorted(folder.rglob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            out[path.name] = (f.metadata(), {k: f.get_tensor(k).clone() for k in f.keys()})  # not the mapped file
    return out


def _same_shards(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k][0] == b[k][0] and a[k][1].keys() == b[k][1].keys()
        and all(torch.equal(a[k][1][t], b[k][1][t]) for t in a[k][1])
        for k in a
    )


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_a_second_epoch_calls_no_encoder(cli, tmp_path, monkeypatch, mode):
    from editrl_toy.backbone import ToyEditor

    counter = _Counting(monkeypatch, ToyEditor)
    result = cli(
        "run", TOY_RECIPE, *SMALL, "train.steps=4", f"backbone.condition_cache={mode}",
        f"backbone.condition_cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path / 'run'}",
    )
    assert result.exit_code == 0, result.output
    # 4 steps of 2 over 4 examples = 2 epochs; every example encoded exactly once, all in the first epoch's 2 calls
    assert len(counter.calls) == 2, counter.calls
    ids = [i for call in counter.calls for i in call]
    assert len(ids) == len(set(ids)) == 4
    assert f"condition cache ({mode}" in result.output
    if mode == "disk":  # an empty cache: the encoders are loaded, and the first example misses
        assert "train: first miss at example 0 of 4; encoders loaded" in result.output


def test_off_encodes_every_step(cli, tmp_path, monkeypatch):
    from editrl_toy.backbone import ToyEditor

    counter = _Counting(monkeypatch, ToyEditor)
    result = cli("run", TOY_RECIPE, *SMALL, "train.steps=4", f"output_dir={tmp_path / 'run'}")
    assert result.exit_code == 0, result.output
    assert len(counter.calls) == 4 and "condition cache" not in result.output  # the test above can fail


def test_a_run_over_an_encoded_cache_calls_no_encoder(cli, tmp_path, monkeypatch):
    from editrl_toy.backbone import ToyEditor

    cache = [f"backbone.condition_cache_dir={tmp_path / 'cache'}", "backbone.condition_cache=disk"]
    encoded = cli("data", "encode", TOY_RECIPE, *SMALL, "eval.max_examples=3", *cache)
    assert encoded.exit_code == 0, encoded.output
    assert "train: 4 encoded, 0 already cached" in encoded.output and "eval: 3 encoded" in encoded.output
    counter = _Counting(monkeypatch, ToyEditor)
    result = cli("run", TOY_RECIPE, *SMALL, "train.steps=2", "eval.at_end=true", "eval.max_examples=3", *cache,
                 f"output_dir={tmp_path / 'run'}")
    assert result.exit_code == 0, result.output
    assert counter.calls == []  # neither training nor the evaluation encoded anything
    assert "all 4 train cached, all 3 eval cached; encoders not loaded" in result.output


def test_changing_the_instruction_the_image_or_the_padded_length_misses():
    backbone = _toy()
    key = backbone_key(backbone)
    e = _examples(1)[0]
    base = example_key(key, e.id, e.source, e.instruction)
    assert example_key(key, e.id, e.source.clone(), e.instruction) == base  # same contents, same key
    assert example_key(key, e.id, e.source, "remove the red circle") != base  # another instruction
    changed = e.source.clone()
    changed[0, 5, 7] += 1 / 255  # one channel of one pixel, one grey level
    assert example_key(key, e.id, changed, e.instruction) != base
    assert example_key(key, "other", e.source, e.instruction) != base
    assert backbone_key(_toy(max_text_len=16)) != key  # the toy's sequence length
    assert backbone_key(_toy(weights="random")) == key  # the toy's condition does not depend on its weights


def test_a_truncated_or_altered_shard_is_re_encoded(tmp_path, monkeypatch):
    from editrl_toy.backbone import ToyEditor

    backbone = _toy()
    key = backbone_key(backbone)
    store = DiskStore(tmp_path, key, ToyEditor.condition_class)
    batch = EditBatch.collate(_examples(3))
    expected = backbone.encode_condition(batch)
    counter = _Counting(monkeypatch, ToyEditor)
    cache = ConditionCache(backbone, key, store)
    cache.condition(batch)
    keys = batch_keys(key, batch)
    truncated, altered = store.path(keys[0]), store.path(keys[2])
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])  # a write cut short
    raw = bytearray(altered.read_bytes())
    raw[-1] ^= 0x01  # one bit of the last tensor's data: safetensors still parses it, the checksum does not match
    altered.write_bytes(bytes(raw))
    again = ConditionCache(backbone, key, store).condition(batch)
    assert counter.calls == [["e0", "e1", "e2"], ["e0", "e2"]]  # only the two bad entries were encoded again
    assert store.corrupt == 2
    for name in ("text", "text_mask", "source"):
        assert torch.equal(getattr(again, name), getattr(expected, name))
    assert ConditionCache(backbone, key, store).condition(batch) is not None and len(counter.calls) == 2  # rewritten


def test_data_encode_reencodes_a_truncated_shard(cli, tmp_path):
    args = ["data", "encode", TOY_RECIPE, *SMALL, "eval.max_examples=3", f"backbone.condition_cache_dir={tmp_path}"]
    assert cli(*args).exit_code == 0
    before = _shards(tmp_path)
    victim = sorted(tmp_path.rglob("*.safetensors"))[1]
    victim.write_bytes(victim.read_bytes()[:100])
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert result.output.count("1 corrupt re-encoded") == 1 and result.output.count(" 0 encoded") == 1, result.output
    assert _same_shards(_shards(tmp_path), before)


def test_a_cache_folder_that_cannot_be_written_is_refused_with_its_name(cli, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # the cache folder would have to be created inside a regular file
    result = cli("data", "encode", TOY_RECIPE, *SMALL, "eval.max_examples=3", f"backbone.condition_cache_dir={blocker}")
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "backbone.condition_cache_dir" in flat and str(blocker) in flat, result.output


def test_data_encode_killed_with_sigkill_resumes_to_the_uninterrupted_result(cli, tmp_path):
    size = ["dataset.train_size=600", "eval.max_examples=6"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "editrl", "data", "encode", str(TOY_RECIPE), *size,
         f"backbone.condition_cache_dir={killed}", "--batch-size", "4"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while sum(1 for _ in killed.rglob("*.safetensors")) < 100:
        assert proc.poll() is None, f"encode ended before it could be killed: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = sum(1 for _ in killed.rglob("*.safetensors"))
    assert 100 <= done < 606  # killed part of the way
    resumed = cli("data", "encode", TOY_RECIPE, *size, f"backbone.condition_cache_dir={killed}", "--batch-size", "4")
    assert resumed.exit_code == 0, resumed.output
    assert "already cached" in resumed.output and not list(killed.rglob("*.tmp"))
    uninterrupted = cli("data", "encode", TOY_RECIPE, *size, f"backbone.condition_cache_dir={whole}", "--batch-size", "4")
    assert uninterrupted.exit_code == 0
    a, b = _shards(killed), _shards(whole)
    assert len(a) == 606 and _same_shards(a, b)


def test_two_processes_encoding_into_one_cache_agree_with_one(cli, tmp_path):
    size = ["dataset.train_size=200", "eval.max_examples=6"]
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    command = [sys.executable, "-m", "editrl", "data", "encode", str(TOY_RECIPE), *size,
               f"backbone.condition_cache_dir={shared}", "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert cli("data", "encode", TOY_RECIPE, *size, f"backbone.condition_cache_dir={alone}").exit_code == 0
    assert not list(shared.rglob("*.tmp"))  # every write landed whole, under its own temporary name first
    a, b = _shards(shared), _shards(alone)
    assert len(a) == 206 and _same_shards(a, b)


def test_source_latents_are_cached_too_when_a_regulariser_needs_them(cli, tmp_path, monkeypatch):
    from editrl_toy.backbone import ToyEditor

    recipe = TOY_RECIPE.parent / "cocoedit.yaml"  # cocoedit_region needs the sources' latents
    small = ["train.batch_size=2", "exploration.group_size=4", "solver.steps=4", "train.save_every=0",
             "dataset.train_size=4", "eval.at_end=false", f"backbone.condition_cache_dir={tmp_path / 'cache'}",
             "backbone.condition_cache=disk"]
    assert cli("data", "encode", recipe, *small).exit_code == 0
    conditions, images = _Counting(monkeypatch, ToyEditor), []
    original = ToyEditor.encode_images
    monkeypatch.setattr(ToyEditor, "encode_images", lambda bb, x: images.append(len(x)) or original(bb, x))
    result = cli("run", recipe, *small, "train.steps=2", f"output_dir={tmp_path / 'run'}")
    assert result.exit_code == 0, result.output
    assert conditions.calls == [] and images == [] and "encoders not loaded" in result.output
    # what the run read equals encoding: toy latents are 2·img − 1
    backbone = _toy()
    key = backbone_key(backbone)
    cache = ConditionCache(backbone, key, DiskStore(tmp_path / "cache", key, ToyEditor.condition_class))
    from editrl_toy.dataset import ToyShapes

    examples = ToyShapes(ToyShapes.Config(train_size=4)).split("train")
    batch = EditBatch.collate([examples[2], examples[0]])
    assert torch.equal(cache.source_latents(batch), batch.source * 2 - 1) and cache.hits == 2 and cache.misses == 0
