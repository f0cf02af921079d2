"""The ``editrl`` command line. One module per command; plugins may add commands through a hook."""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning makes torch 10–20× slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import sys

import typer

from editrl import __version__
from editrl.cli import eval as eval_cmd
from editrl.cli import inspect, run, validate
from editrl.cli.output import console_err


def _version(value: bool) -> None:
    if value:
        typer.echo(f"editrl {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="editrl", no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Reward-driven post-training of instruction-guided image editors.",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    ) -> None:
        """editrl: run, validate and inspect post-training recipes."""

    app.command("run")(run.run)
    app.command("validate")(validate.validate)
    app.command("eval")(eval_cmd.eval_run)
    app.command("ls")(inspect.ls)
    app.command("plugins")(inspect.plugins)
    app.command("schema")(inspect.schema)
    _add_plugin_commands(app)
    return app


def _add_plugin_commands(app: typer.Typer) -> None:
    from editrl.errors import EditrlError
    from editrl.plugin_manager import get_plugin_manager

    try:
        pm = get_plugin_manager()
    except EditrlError as exc:  # a broken plugin must not take the whole CLI down
        console_err.print(f"[yellow]warning:[/] plugin commands unavailable: {exc}")
        return
    pm.hook.editrl_register_commands(app=app)


@functools.cache
def _app() -> typer.Typer:
    return build_app()


def main() -> None:
    _app()(prog_name="editrl")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
