"""Help: plain flags (no `<bool>`), and fast — `editrl --help` and a core command's help never import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

HELP_WITHOUT_TORCH = """
import sys
from editrl.cli import main
sys.argv = ["editrl", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = sorted(m for m in ("torch", "accelerate", "diffusers", "transformers") if m in sys.modules)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["eval", "--help"], ["ls", "--help"]])
def test_help_imports_no_torch(args):
    proc = subprocess.run([sys.executable, "-c", HELP_WITHOUT_TORCH, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: editrl" in proc.stdout and "HEAVY []" in proc.stdout, proc.stdout


def test_flags_show_no_type(cli):
    for command in ("run", "eval", "ls", "plugins", "validate", "schema", "bench", "new", "toy calibrate"):
        text = cli(*command.split(), "--help").output  # "toy calibrate": a plugin's command gets plain help too
        assert "<bool>" not in text, (command, text)
    run_help = cli("run", "--help").output
    assert "--resume " in run_help and "-p, --plugin <list[str]>" in run_help


def test_plugin_commands_still_run_and_are_listed(cli):
    assert "Installed plugins may add more commands: `editrl plugins` lists them." in " ".join(cli("--help").output.split())
    toy = cli("toy", "--help")  # a plugin's command group, loaded on first use
    assert toy.exit_code == 0 and "pretrain" in toy.output
    unknown = cli("no-such-command")
    assert unknown.exit_code == 2 and "No such command" in unknown.output
