"""``editrl ls``: each field's help is its whole docstring, not only the first line."""

from editrl.cli.inspect import _fields
from editrl.plugin_manager import build_registry, get_plugin_manager


def test_field_help_is_the_whole_docstring():
    masked = build_registry(get_plugin_manager()).get("policy", "masked")
    help_of = {name: text for name, _, _, text in _fields(masked)}
    # The docstring of tau_out spans several source lines; all of it is shown, as one paragraph.
    assert help_of["tau_out"].startswith("τ_out of ``bandwidth: fixed``")
    assert help_of["tau_out"].endswith("(toy_rdp_bandwidth.md).")
    assert "\n" not in help_of["tau_out"]
