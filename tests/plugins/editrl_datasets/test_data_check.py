"""Issue 13's bad-data cases through the real CLI: ``editrl validate`` and ``editrl run`` refuse unusable
``edit_folder`` data with exit 2, a message naming the file and the manifest line, and nothing trained or written."""

from __future__ import annotations

from tests_support import TINY, TOY_RECIPE


def flat(result) -> str:
    return " ".join(result.output.split())


def refused(cli, tree, tmp_path, *overrides: str, command: str = "run"):
    """Run ``command`` on the tree; assert exit 2, no traceback and, for ``run``, no run directory. Returns the text."""
    out = tmp_path / "run"
    result = cli(command, TOY_RECIPE, *TINY, *tree.overrides(*overrides), f"output_dir={out}")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing trained, nothing written (no checkpoint, no recipe.yaml)
    return flat(result)


def test_valid_tree_validates_and_trains(cli, tree, tmp_path):
    tree.valid()
    out = tmp_path / "run"
    run = cli("run", TOY_RECIPE, *TINY, *tree.overrides("train.steps=1", "eval.samples=0"), f"output_dir={out}")
    assert run.exit_code == 0, run.output
    assert (out / "checkpoints" / "latest").is_file() and (out / "eval.json").is_file()


def test_missing_root_is_refused_by_validate(cli, tree, tmp_path):
    text = refused(cli, tree, tmp_path, command="validate")  # nothing written under tree.root: it does not exist
    assert f"{tree.root / 'train.jsonl'} not found" in text and f"{tree.root / 'eval.jsonl'} not found" in text


def test_missing_eval_manifest_is_found_before_training(cli, tree, tmp_path):
    tree.valid()
    (tree.root / "eval.jsonl").unlink()
    assert f"{tree.root / 'eval.jsonl'} not found" in refused(cli, tree, tmp_path)
    # a run that never evaluates does not need it
    assert cli("validate", TOY_RECIPE, *tree.overrides("eval.at_end=false", "eval.metrics=[]")).exit_code == 0


def test_empty_train_split(cli, tree, tmp_path):
    tree.valid()
    tree.write("train", [])
    assert f"{tree.root / 'train.jsonl'}: the train split has no examples" in refused(cli, tree, tmp_path)


def test_bad_manifest_lines_are_all_named(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0), "{not json", {"source": "img/src0.png"}, tree.record(3)])
    text = refused(cli, tree, tmp_path)
    assert f"{manifest}:2: not JSON" in text
    assert f"{manifest}:3: missing instruction, mask, target" in text
    assert "2 problems" in text


def test_missing_and_truncated_images(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0), tree.record(1, source="img/nope.png"), tree.record(2)])
    broken = tree.root / "img" / "src2.png"
    broken.write_bytes(broken.read_bytes()[:200])  # cut mid-IDAT
    text = refused(cli, tree, tmp_path)
    assert f"{manifest}:2: source {tree.root / 'img/nope.png'}: file not found" in text
    assert f"{manifest}:3: source {broken}: truncated or corrupt" in text


def test_truncated_jpeg_target(cli, tree, tmp_path):
    tree.valid()
    tree.image("tgt.jpg", fmt="JPEG")
    jpeg = tree.root / "img" / "tgt.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:-300])  # the end-of-image marker is gone
    manifest = tree.write("train", [tree.record(0, target="img/tgt.jpg")])
    assert f"{manifest}:1: target {jpeg}: truncated JPEG (no end-of-image marker)" in refused(cli, tree, tmp_path)


def test_mask_of_another_size_is_refused_unless_mask_resize_says_how(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0, mask=tree.mask("small.png", size=(16, 16), box=(4, 4, 8, 8)))])
    text = refused(cli, tree, tmp_path)
    assert f"{manifest}:1: mask {tree.root / 'img/small.png'} is 16×16 but its source" in text
    assert "is 32×32; set dataset.mask_resize" in text
    assert cli("validate", TOY_RECIPE, *tree.overrides("dataset.mask_resize=nearest")).exit_code == 0  # resized


def test_non_binary_mask_needs_a_threshold(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0, mask=tree.mask("grey.png", grey=128))])
    text = refused(cli, tree, tmp_path)
    assert f"{manifest}:1: mask {tree.root / 'img/grey.png'} is not black/white (3 grey levels)" in text
    assert "set dataset.mask_threshold" in text
    assert cli("validate", TOY_RECIPE, *tree.overrides("dataset.mask_threshold=0.5")).exit_code == 0


def test_target_of_another_size(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0, target=tree.image("big.png", size=(48, 48)))])
    assert f"{manifest}:1: target {tree.root / 'img/big.png'} is 48×48 but its source" in refused(cli, tree, tmp_path)


def test_the_toy_editor_refuses_unknown_words_and_other_sizes(cli, tree, tmp_path):
    tree.valid()
    manifest = tree.write("train", [tree.record(0), tree.record(1, instruction="make the sky purple")])
    text = refused(cli, tree, tmp_path)
    assert f"{manifest}:2: toy_editor: instruction 'make the sky purple' uses word 'make'" in text
    tree.write("train", [tree.record(0)])
    text = refused(cli, tree, tmp_path, "dataset.resolution=64")  # 64×64 images given to the 32×32 editor
    assert f"{manifest}:1: toy_editor edits 32×32 images, this example is given as 64×64" in text


def test_degenerate_masks_are_counted_then_dropped(cli, tree, tmp_path):
    tree.valid()
    records = [tree.record(i) for i in range(4)]
    records.append(tree.record(4, mask=tree.mask("black.png", box=(0, 0, 0, 0))))
    records.append(tree.record(5, mask=tree.mask("white.png", box=(0, 0, 32, 32))))
    records.append(tree.record(6, source=tree.image("grey.png", mode="L")))
    tree.write("train", records)
    kept = cli("validate", TOY_RECIPE, *tree.overrides())
    assert kept.exit_code == 0, kept.output
    assert "train split: 3 degenerate example(s) of 7 (L source converted to RGB: 1, empty mask: 1, full mask: 1): " \
           "kept" in flat(kept)
    dropped = cli("validate", TOY_RECIPE, *tree.overrides("dataset.drop_degenerate=true"))
    assert dropped.exit_code == 0 and "dropped 3 (drop_degenerate)" in flat(dropped)
    assert "data checked (edit_folder): train 4 (3 dropped), eval 3 examples" in flat(dropped)


def test_dropping_everything_leaves_an_empty_split(cli, tree, tmp_path):
    tree.valid()
    tree.write("train", [tree.record(0, mask=tree.mask("black.png", box=(0, 0, 0, 0)))])
    text = refused(cli, tree, tmp_path, "dataset.drop_degenerate=true")
    assert "the train split is empty after dropping its 1 degenerate examples" in text


def test_inverted_polarity_is_warned(cli, tree, tmp_path):
    tree.valid()
    tree.write("train", [tree.record(i, mask=tree.mask(f"inv{i}.png", box=(0, 0, 32, 24))) for i in range(3)])
    result = cli("validate", TOY_RECIPE, *tree.overrides())
    assert result.exit_code == 0
    assert "likely inverted mask polarity: 3 of 3 masks mark more than 50% of the image as edit" in flat(result)



def test_data_summary_table(cli, tree):
    tree.valid(train=2, eval=1)
    records = [tree.record(0), tree.record(1, task="remove", mask=tree.mask("half.png", box=(0, 0, 16, 32)))]
    records.append(tree.record(2, mask=tree.mask("black.png", box=(0, 0, 0, 0))))
    tree.write("train", records)
    result = cli("data", "summary", TOY_RECIPE, *tree.overrides("dataset.drop_degenerate=true"))
    assert result.exit_code == 0, result.output
    text = flat(result)
    # train: 3 examples, 1 dropped (empty mask) → kept 2: one add (area 64/1024 = 6.25 %), one remove (50 %)
    assert "│ train │ 3 │ 2 │ 1 │ 0 │ add (1), remove (1) │ 32×32 (2) │ 32×32 (2) │" in text
    assert "│ eval │ 1 │ 1 │ 0 │ 0 │ add (1) │" in text
    assert "│ (5, 25%] │ 1 │" in text and "│ (25, 50%] │ 1 │" in text  # 6.25 % and 50 % (bins are (lo, hi])
    assert "│ train │ empty mask │ 1 │ dropped (drop_degenerate) │" in text


def test_data_summary_lists_every_problem(cli, tree):
    tree.valid()
    tree.write("train", [tree.record(i, source=f"img/missing{i}.png") for i in range(25)])
    result = cli("data", "summary", TOY_RECIPE, *tree.overrides())
    assert result.exit_code == 2 and "25 problems" in flat(result)
    assert flat(result).count("file not found") == 25  # all listed (validate and run list the first 20)
