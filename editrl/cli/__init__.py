"""The ``editrl`` command line. One module per command; plugins may add commands through a hook.

Startup stays light: the command modules import torch and the plugins only inside the commands, and plugin
commands are loaded only when a name that is not a core command is asked for, so ``editrl --help`` and the core
commands' ``--help`` never import torch.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning makes torch 10–20× slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import sys

import typer
from typer.core import TyperGroup

from editrl import __version__
from editrl.cli import edit as edit_cmd
from editrl.cli import eval as eval_cmd
from editrl.cli import score as score_cmd
from editrl.cli import bench, data, inspect, new, run, validate
from editrl.cli.output import console_err


def _version(value: bool) -> None:
    if value:
        typer.echo(f"editrl {__version__}")
        raise typer.Exit()


class _PluginCommandGroup(TyperGroup):
    """The root group: core commands up front, plugin commands (``editrl_register_commands``) loaded on first use."""

    _plugins_loaded = False

    def get_command(self, ctx, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._plugins_loaded:
            self._plugins_loaded = True
            for name, plugin_command in _plugin_commands().items():
                self.commands.setdefault(name, plugin_command)
            command = super().get_command(ctx, cmd_name)
        return command


def _plugin_commands() -> dict:
    """The click commands every plugin adds, built from a scratch Typer app the hook fills."""
    from editrl.errors import EditrlError
    from editrl.plugin_manager import get_plugin_manager

    try:
        pm = get_plugin_manager()
    except EditrlError as exc:  # a broken plugin must not take the whole CLI down
        console_err.print(f"[yellow]warning:[/] plugin commands unavailable: {exc}")
        return {}
    scratch = typer.Typer(rich_markup_mode=None)  # plugin commands get plain help too (no `<bool>`)
    pm.hook.editrl_register_commands(app=scratch)
    if not scratch.registered_commands and not scratch.registered_groups:
        return {}
    return dict(typer.main.get_group(scratch).commands)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="editrl", cls=_PluginCommandGroup, no_args_is_help=True, pretty_exceptions_show_locals=False,
        add_completion=False, rich_markup_mode=None,  # plain help: no `<bool>` on flags, no rich import for --help
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Reward-driven post-training of instruction-guided image editors.",
        epilog="Installed plugins may add more commands: `editrl plugins` lists them.",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    ) -> None:
        """editrl: run, validate and inspect post-training recipes."""

    app.command("run")(run.run)
    app.command("validate")(validate.validate)
    app.command("eval")(eval_cmd.eval_run)
    app.command("score")(score_cmd.score)
    app.command("edit")(edit_cmd.edit)
    app.command("ls")(inspect.ls)
    app.command("plugins")(inspect.plugins)
    app.command("schema")(inspect.schema)
    app.command("bench")(bench.bench)
    app.command("new")(new.new)
    app.add_typer(data.data_app)
    return app


@functools.cache
def _app() -> typer.Typer:
    return build_app()


def main() -> None:
    _app()(prog_name="editrl")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
