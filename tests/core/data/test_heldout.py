"""The held-out split: exactly one selection, membership fixed by the id alone (stable as data grows), id lists
checked."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from editrl.data.heldout import HeldOut, in_fraction, split_ids
from editrl.errors import ResourceError


def test_exactly_one_of_ids_or_fraction():
    with pytest.raises(ValidationError, match="exactly one"):
        HeldOut()
    with pytest.raises(ValidationError, match="exactly one"):
        HeldOut(ids=["a"], fraction=0.5)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValidationError, match="fraction"):
            HeldOut(fraction=bad)
    with pytest.raises(ValidationError, match="extra"):
        HeldOut(fraction=0.5, fractoin=0.1)


def test_membership_is_the_seeded_hash_of_the_id():
    # u = first 8 bytes of sha256("7:img/3.png") as a big-endian integer / 2^64, held out iff u < fraction: computed
    # here from the definition, then the split must agree at fractions just below and just above u.
    digest = hashlib.sha256(b"7:img/3.png").digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    assert in_fraction("img/3.png", min(u + 1e-9, 0.999999), seed=7)
    assert not in_fraction("img/3.png", max(u - 1e-9, 1e-9), seed=7)


def test_fraction_split_is_stable_as_examples_are_added_and_about_the_fraction():
    ids = [f"scene{i:04d}/0/00001.png" for i in range(2000)]
    held = HeldOut(fraction=0.2, seed=3)
    train, evaluation = split_ids(ids, held)
    assert sorted(train + evaluation) == list(range(2000)) and not set(train) & set(evaluation)
    assert train == sorted(train) and evaluation == sorted(evaluation)  # the dataset's order is kept
    # Binomial(2000, 0.2): mean 400, sd sqrt(2000·0.2·0.8) ≈ 17.9; fixed ids and seed, 4 sd tolerance.
    assert abs(len(evaluation) - 400) < 72
    # More examples, inserted in front and appended: the first 2000 keep their membership.
    grown = [f"new{i}" for i in range(300)] + ids + [f"more{i}" for i in range(500)]
    _, grown_eval = split_ids(grown, held)
    held_before = {ids[p] for p in evaluation}
    assert {grown[p] for p in grown_eval} & set(ids) == held_before
    # Another seed picks another set of about the same size.
    _, other = split_ids(ids, HeldOut(fraction=0.2, seed=4))
    assert set(other) != set(evaluation) and abs(len(other) - 400) < 72


def test_id_list_inline_and_in_a_file(tmp_path):
    ids = ["a/0.png", "b/0.png", "c/0.png", "a/0.png"]  # an id may repeat (one image in two tasks)
    assert split_ids(ids, HeldOut(ids=["a/0.png"])) == ([1, 2], [0, 3])
    (tmp_path / "eval_ids.txt").write_text("# held out\n\nc/0.png\n  b/0.png  \n")
    assert split_ids(ids, HeldOut(ids="eval_ids.txt"), root=tmp_path) == ([0, 3], [1, 2])
    assert split_ids(ids, HeldOut(ids=str(tmp_path / "eval_ids.txt"))) == ([0, 3], [1, 2])


def test_unknown_or_unreadable_ids_are_named(tmp_path):
    with pytest.raises(ResourceError, match=r"heldout.ids\[1\]: 'zz' is not the id of any example"):
        split_ids(["a"], HeldOut(ids=["a", "zz"]))
    (tmp_path / "ids.txt").write_text("a\n\nzz\n")
    with pytest.raises(ResourceError, match=r"ids.txt:3: 'zz' is not the id"):
        split_ids(["a"], HeldOut(ids="ids.txt"), root=tmp_path)
    with pytest.raises(ResourceError, match=r"cannot read the id file .*missing.txt"):
        split_ids(["a"], HeldOut(ids="missing.txt"), root=tmp_path)
