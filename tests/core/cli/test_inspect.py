"""``editrl ls``: each field's help is its whole docstring, not only the first line."""

from editrl.cli.inspect import _fields
from editrl.plugin_manager import build_registry, get_plugin_manager


def test_field_help_is_the_whole_docstring():
    masked = build_registry(get_plugin_manager()).get("policy", "masked")
    help_of = {name: text for name, _, _, text in _fields(masked.Config)}
    # The docstring of tau_out spans several source lines; all of it is shown, as one paragraph.
    assert help_of["tau_out"].startswith("τ_out of ``bandwidth: fixed``")
    assert help_of["tau_out"].endswith("(toy_rdp_bandwidth.md).")
    assert "\n" not in help_of["tau_out"]


def _titles(output: str) -> list[str]:
    """The table titles of `editrl ls` output: the lines that open a table (the line above its top border)."""
    lines = output.splitlines()
    return [lines[i - 1].strip() for i, line in enumerate(lines) if line.startswith("┏") and i > 0]


def test_ls_lists_the_settings_sections_and_every_kind(cli):
    result = cli("ls")
    assert result.exit_code == 0, result.output
    titles = _titles(result.output)
    sections = [f"{s}  (recipe section)" for s in ("lora", "train", "eval")]
    assert titles[:4] == ["recipe  (top-level fields and sections)", *sections]
    assert "reward toy_judge  (toy)" in titles and "exploration global_neighborhood  (neighbor_grpo)" in titles
    for field in ("seed", "output_dir", "plugins", "log_every", "log_with", "max_examples", "target_modules"):
        assert f"│ {field} " in result.output, field


def test_ls_one_section_and_plural_kinds(cli):
    train = cli("ls", "train")
    assert train.exit_code == 0 and _titles(train.output) == ["train  (recipe section)"]
    assert "│ steps " in train.output and "│ rank " not in train.output
    rewards, reward = cli("ls", "rewards"), cli("ls", "reward")
    assert rewards.exit_code == 0 and rewards.output == reward.output
    assert all(t.startswith("reward ") for t in _titles(rewards.output))
    bad = cli("ls", "rewrads")
    assert bad.exit_code == 2 and "'rewrads' is not a recipe section or component kind (did you mean 'rewards'?)" in bad.output


def test_ls_shows_what_components_require_and_provide(cli):
    text = " ".join(cli("ls").output.split())  # captions wrap with the table
    assert "requires: attention, mask" in text  # acd reads attention maps and the edit mask
    assert "provides: velocity · needs a surrogate policy · keeps the rollout's states" in text  # grpo_clip
    assert "capabilities: attention" in text  # the toy editor can capture attention
    assert "provides: description, mask, target" in text  # toy_shapes' examples


def test_names_are_never_cut_in_tables(cli):
    # Not a terminal: a table is printed as wide as it needs, so long component names stay whole.
    out = cli("plugins").output
    assert "exploration:global_neighborhood" in out and "neighbor_grpo" in out
    toy_row = next(line for line in out.splitlines() if line.strip().startswith("toy "))
    assert toy_row.split()[:4] == ["toy", "editrl", "0.1.0", "toy"]  # plugin, distribution, version, its command
