"""Bad input: exit code 2, one bullet per problem naming its location, never a traceback."""

from __future__ import annotations

import pytest

from tests_support import TOY_RECIPE


def assert_clean_failure(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("rewards.0.type=nope", ["rewards.0: unknown reward type 'nope'; expected one of:", "toy_judge", "masked_psnr"]),
        ("train.steps=abc", ["train.steps: Input should be a valid integer"]),
        ("exploration.sigma=2", ["exploration.sigma: Input should be less than or equal to 1"]),
        ("optimizer.foo=1", ["optimizer.foo: unknown key (`editrl ls optimizer` lists the fields)"]),
        # "did you mean": difflib over the fields of the section the key is in
        ("train.stpes=5", ["train.stpes: unknown key (did you mean `train.steps`? `editrl ls train` lists the fields)"]),
        ("exploration.sigmaa=0.5", ["exploration.sigmaa: unknown key (did you mean `exploration.sigma`?"]),
        ("rewards.0.wieght=2", ["rewards.0.wieght: unknown key (did you mean `rewards.0.weight`? `editrl ls rewards`"]),
        ("seeed=1", ["seeed: unknown key (did you mean `seed`? `editrl ls recipe` lists the fields)"]),
        ("~backbone", ["backbone: Field required"]),
        ("policy=null", ["policy: optimizer 'grpo_clip' needs a surrogate policy; add one of:", "euclidean"]),
        ("exploration={type: rdp, group_size: 4}", ["rdp"]),
    ],
)
def test_validate_reports_each_problem(cli, override, fragments):
    result = cli("validate", TOY_RECIPE, override)
    if override.startswith("exploration={type: rdp"):  # the toy dataset has masks: this one is valid
        assert result.exit_code == 0, result.output
        return
    assert_clean_failure(result, "is not a valid recipe", *fragments)


def test_unknown_type_lists_third_party_names(cli, fake_distribution):
    assert_clean_failure(cli("validate", TOY_RECIPE, "rewards.0.type=nope"), "brightness", "toy_judge")


def test_all_problems_at_once(cli):
    result = cli("validate", TOY_RECIPE, "train.steps=0", "lora.rank=-1", "train.lr=fast")
    assert_clean_failure(result, "train.steps:", "lora.rank:", "train.lr:")
    assert result.output.count("•") == 3


def test_missing_file_malformed_yaml_and_bad_override(cli, tmp_path):
    assert_clean_failure(cli("run", tmp_path / "nope.yaml"), "recipe file not found")
    bad = tmp_path / "bad.yaml"
    bad.write_text("backbone: {type: toy_editor\n")
    assert_clean_failure(cli("validate", bad), "malformed YAML: line")
    bad_override = cli("validate", TOY_RECIPE, "train.steps")
    assert_clean_failure(bad_override, "error: invalid override:\n  • 'train.steps': expected key=value")
    assert "not a valid recipe" not in bad_override.output


def test_switching_a_component_by_its_type_replaces_the_section(cli):
    # global_neighborhood's sigma is not a field of rdp: the section becomes {type: rdp}, then group_size applies
    result = cli("validate", TOY_RECIPE, "exploration.type=rdp", "exploration.group_size=4")
    assert result.exit_code == 0, result.output
    kept = cli("validate", TOY_RECIPE, "exploration.type=rdp", "exploration.sigma=0.3")  # later overrides on top
    assert_clean_failure(kept, "exploration.sigma: unknown key")


def test_regularizer_needing_what_the_optimizer_lacks(cli, tmp_path, monkeypatch):
    (tmp_path / "nft_reg.py").write_text(
        "from editrl import hookimpl\n"
        "from editrl.interfaces import Regularizer\n\n"
        "class KeepRegion(Regularizer):\n"
        "    name = 'keep_region'\n"
        "    requires = frozenset({'x0_pos'})\n\n"
        "    def loss(self, ctx, chunk, rollout):\n"
        "        raise AssertionError('never called')\n\n"
        "@hookimpl\n"
        "def editrl_register_components(registry):\n"
        "    registry.add(KeepRegion)\n"
    )
    monkeypatch.chdir(tmp_path)
    result = cli("validate", TOY_RECIPE, "-p", "nft_reg", "regularizers.0={type: keep_region}")
    assert_clean_failure(result, "regularizers.0: regularizer 'keep_region' needs 'x0_pos'", "grpo_clip")


def test_valid_recipe(cli):
    result = cli("validate", TOY_RECIPE)
    assert result.exit_code == 0 and "is a valid recipe" in result.output


def test_messages_are_never_wrapped(cli, tmp_path):
    """A long recipe path must not break the message mid-sentence (output that is not a terminal is 80 columns)."""
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 6)
    deep.mkdir(parents=True)
    recipe = deep / "neighbor_grpo.yaml"
    recipe.write_text(TOY_RECIPE.read_text())
    result = cli("validate", recipe, "train.steps=0")
    assert_clean_failure(result, f"{recipe} is not a valid recipe:")
    assert any(line.startswith("error:") and line.endswith("is not a valid recipe:") for line in result.output.splitlines())
