import pytest

from editrl.config import apply_overrides, load_recipe_dict
from editrl.errors import RecipeError


def base():
    return {"train": {"steps": 100, "lr": 1e-4}, "rewards": [{"type": "a", "weight": 1.0}], "seed": 0}


def test_overrides_parse_yaml_values_and_dotted_keys():
    data = apply_overrides(base(), ["train.steps=5", "train.lr=2.0e-5", "seed=3", "output_dir=runs/x", "flag=true"])
    assert data["train"] == {"steps": 5, "lr": 2e-5}
    assert data["seed"] == 3 and data["output_dir"] == "runs/x" and data["flag"] is True


def test_overrides_index_lists_append_and_create_sections():
    data = apply_overrides(base(), ["rewards.0.weight=0.5", "rewards.1={type: b}", "lora.rank=4"])
    assert data["rewards"] == [{"type": "a", "weight": 0.5}, {"type": "b"}]
    assert data["lora"] == {"rank": 4}


def test_a_new_type_replaces_the_section_and_later_overrides_apply_on_top():
    data = {"exploration": {"type": "a", "sigma": 0.3, "group_size": 8}, "rewards": [{"type": "r", "weight": 2.0}]}
    out = apply_overrides(data, ["exploration.type=b", "exploration.group_size=4", "rewards.0.type=s"])
    assert out["exploration"] == {"type": "b", "group_size": 4}  # sigma was a's, group_size set again after
    assert out["rewards"] == [{"type": "s"}]
    same = apply_overrides({"solver": {"type": "euler", "steps": 8}}, ["solver.type=euler"])
    assert same["solver"] == {"type": "euler", "steps": 8}  # the same type keeps its fields


def test_delete_with_tilde():
    data = apply_overrides(base(), ["~train.lr", "~rewards.0"])
    assert data["train"] == {"steps": 100} and data["rewards"] == []


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("steps", "expected key=value"),
        ("rewards.5.weight=1", "not an index of a list of 1"),
        ("~nothing.here", "not in the recipe"),
        ("train..steps=1", "dotted key"),
        ("seed.x=1", "inside a int"),
    ],
)
def test_bad_overrides_name_the_problem(override, fragment):
    with pytest.raises(RecipeError) as info:
        apply_overrides(base(), [override])
    assert fragment in info.value.problems[0]
    assert override in info.value.problems[0]


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe_dict(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  steps: [1, 2\n")
    with pytest.raises(RecipeError) as info:
        load_recipe_dict(bad)
    assert "malformed YAML: line" in info.value.problems[0]
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("- 1\n- 2\n")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe_dict(scalar)
