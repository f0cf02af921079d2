"""Bench files through the real CLI: every problem named with the file, the variant and the line, exit 2, before
anything runs; the JSON schema; fingerprints."""

from __future__ import annotations

import json

import yaml

from editrl.bench.plan import fingerprint
from editrl.engine.build import load_recipe
from tests_support import TINY, TOY_RECIPE


def _write(tmp_path, text: str):
    path = tmp_path / "bench.yaml"
    path.write_text(text.replace("RECIPE", str(TOY_RECIPE)))
    return path


GOOD = """\
name: t
seeds: [0, 1]
baseline: a
variants:
  a: {recipe: RECIPE}
  b: {recipe: RECIPE, overrides: [exploration.sigma=0.5]}
metrics: [toy_judge]
"""


def test_extra_key_and_unknown_baseline_are_reported_with_lines(cli, tmp_path):
    text = GOOD.replace("baseline: a", "baseline: nope").replace("metrics:", "colour: red\nmetrics:")
    result = cli("bench", _write(tmp_path, text), "--dry-run")
    assert result.exit_code == 2
    err = result.stderr
    assert "bench.yaml is not a valid bench file" in err
    assert "baseline (line 3): 'nope' is not a variant; expected one of: a, b" in err
    assert "colour (line 7): unknown key" in err
    assert "Traceback" not in result.output


def test_bad_variant_recipe_names_the_variant(cli, tmp_path):
    text = GOOD.replace("exploration.sigma=0.5", "exploration.sigma=-1").replace(
        "a: {recipe: RECIPE}", "a: {recipe: missing.yaml}")
    result = cli("bench", _write(tmp_path, text), "--dry-run")
    assert result.exit_code == 2
    assert "variants.a (missing.yaml): recipe file not found: missing.yaml" in result.stderr
    assert f"variants.b ({TOY_RECIPE}): exploration.sigma: Input should be greater than" in result.stderr


def test_overrides_may_not_set_the_seed_or_run_directory(cli, tmp_path):
    text = GOOD.replace("exploration.sigma=0.5", "seed=3")
    result = cli("bench", _write(tmp_path, text), "--dry-run")
    assert result.exit_code == 2
    assert "variants.b.overrides (line 6): 'seed=3': seed is set by the bench" in result.stderr
    result = cli("bench", _write(tmp_path, GOOD), "--dry-run", "output_dir=x")
    assert result.exit_code == 2 and "command-line overrides: 'output_dir=x'" in result.stderr


def test_malformed_yaml_and_repeated_seeds(cli, tmp_path):
    result = cli("bench", _write(tmp_path, "name: [t\n"), "--dry-run")
    assert result.exit_code == 2 and "malformed YAML: line 2" in result.stderr
    result = cli("bench", _write(tmp_path, GOOD.replace("[0, 1]", "[0, 1, 0]")), "--dry-run")
    assert result.exit_code == 2 and "seeds (line 2): seeds must be distinct; repeated: 0" in result.stderr


def test_dry_run_lists_every_run(cli, tmp_path):
    result = cli("bench", _write(tmp_path, GOOD), "--dry-run", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for variant in ("a", "b"):
        for seed in (0, 1):
            assert str(tmp_path / "out" / "runs" / variant / f"seed_{seed}") in result.output
    assert "0 of 4 runs done; 4 to run" in result.output
    assert not (tmp_path / "out").exists()


def test_bench_schema(cli):
    result = cli("schema", "--bench")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"name", "seeds", "baseline", "variants", "metrics", "workers"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_fingerprint_ignores_where_the_run_goes_but_not_what_it_is(tmp_path):
    a, _ = load_recipe(TOY_RECIPE, [*TINY, "output_dir=x"])
    b, _ = load_recipe(TOY_RECIPE, [*TINY, "output_dir=y", "resume=true"])
    c, _ = load_recipe(TOY_RECIPE, [*TINY, "output_dir=x", "seed=1"])
    d, _ = load_recipe(TOY_RECIPE, [*TINY, "output_dir=x", "train.lr=0.005"])
    assert fingerprint(a) == fingerprint(b)
    assert len({fingerprint(a), fingerprint(c), fingerprint(d)}) == 3
    # a default written out explicitly is the same resolved recipe
    e, _ = load_recipe(TOY_RECIPE, [*TINY, "output_dir=x", f"eval.seed={a.eval.seed}"])
    assert fingerprint(e) == fingerprint(a)
    assert yaml.safe_dump(a.model_dump(mode="json"))  # what is hashed is plain data
