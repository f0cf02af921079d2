"""The toy's own data checks: the editor refuses other sizes and unknown words; toy_shapes describes a prefix."""

from __future__ import annotations

import pytest

from editrl.data.check import check_data
from editrl.data.inspection import ExampleInfo
from editrl.engine.build import load_recipe
from editrl_toy.backbone import ToyEditor
from editrl_toy.dataset import DESCRIBED, ToyShapes
from tests_support import TOY_RECIPE

EDITOR = ToyEditor(ToyEditor.Config())


@pytest.mark.parametrize("instruction", ["ADD A RED CIRCLE, AT THE CENTER.", "remove the blue square"])
def test_accepts_world_instructions_whatever_the_case(instruction):
    assert EDITOR.check_example(ExampleInfo(where="x", shape=(32, 32), instruction=instruction)) == []


def test_refuses_other_sizes_and_words():
    problems = EDITOR.check_example(ExampleInfo(where="x", shape=(64, 64), instruction="make it purple"))
    assert problems[0] == "toy_editor edits 32×32 images, this example is given as 64×64 (set the dataset's " \
                          "resolution to 32)"
    assert problems[1].startswith("toy_editor: instruction 'make it purple' uses word 'make'")
    too_long = " ".join(["the"] * 13)  # 13 words > max_text_len 12
    assert "has 13 words" in EDITOR.check_example(ExampleInfo(where="x", shape=(32, 32), instruction=too_long))[0]


def test_toy_shapes_describes_a_prefix_of_a_large_split():
    ds = ToyShapes(ToyShapes.Config(train_size=1000, eval_size=6))
    train, held_out = ds.inspect("train"), ds.inspect("eval")
    assert train.size == 1000 and len(train.examples) == DESCRIBED and "first 192 of 1000" in train.note
    assert held_out.size == 6 and len(held_out.examples) == 6 and held_out.note == ""
    assert {i.task for i in held_out.examples} == {"add", "remove", "replace"}


def test_the_toy_recipe_passes_its_own_check():
    cfg, registry = load_recipe(TOY_RECIPE)
    dataset = registry.get("dataset", cfg.dataset.type)(cfg.dataset)
    report = check_data(cfg, dataset, registry.get("backbone", cfg.backbone.type)(cfg.backbone))
    assert report.problems == [] and [s.name for s in report.splits] == ["train", "eval"]
    assert all(not s.degenerate and not s.warnings for s in report.splits)  # toy masks are neither empty nor full
