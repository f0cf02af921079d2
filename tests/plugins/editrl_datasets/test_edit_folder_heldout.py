"""``edit_folder`` with ``heldout``: the evaluation examples come from train.jsonl by id, no eval.jsonl needed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from editrl.data.check import check_data
from editrl.data.heldout import in_fraction
from editrl.errors import ResourceError
from editrl_datasets.edit_folder import EditFolder

RECIPE = SimpleNamespace(eval=SimpleNamespace(at_end=True, metrics=[]))
ACCEPT_ALL = SimpleNamespace(check_example=lambda info: [])


def folder(tree, heldout) -> EditFolder:
    return EditFolder(EditFolder.Config(root=str(tree.root), resolution=32, fields=["mask"], heldout=heldout))


def test_id_list_holds_out_those_lines(tree):
    tree.write("train", [tree.record(i) for i in range(5)])  # no eval.jsonl
    ds = folder(tree, {"ids": ["ex1", "ex3"]})
    assert [e.id for e in ds.split("eval")] == ["ex1", "ex3"]
    assert [e.id for e in ds.split("train")] == ["ex0", "ex2", "ex4"]
    report = check_data(RECIPE, ds, ACCEPT_ALL)
    assert report.problems == [] and [s.kept for s in report.splits] == [3, 2]
    assert report.splits[1].inspection.examples[0].where == f"{tree.root / 'train.jsonl'}:2"  # named by its line


def test_fraction_is_the_hash_rule(tree):
    tree.write("train", [tree.record(i) for i in range(12)])
    ds = folder(tree, {"fraction": 0.5, "seed": 3})
    expected = [f"ex{i}" for i in range(12) if in_fraction(f"ex{i}", 0.5, 3)]
    assert [e.id for e in ds.split("eval")] == expected
    assert len(ds.split("train")) == 12 - len(expected)


def test_unknown_id_is_a_split_problem(tree):
    tree.write("train", [tree.record(0)])
    ds = folder(tree, {"ids": ["nope"]})
    with pytest.raises(ResourceError, match="heldout.ids\\[0\\]: 'nope' is not the id of any example"):
        ds.split("eval")
    assert "'nope' is not the id" in check_data(RECIPE, ds, ACCEPT_ALL).problems[0]
