"""The hooks a plugin may implement. Every hook is prefixed ``editrl_`` and documented here."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("editrl")
hookimpl = pluggy.HookimplMarker("editrl")


@hookspec
def editrl_register_components(registry):
    """Register component classes.

    :param registry: the :class:`editrl.registry.Registry`; call ``registry.add(cls)`` once per class.
    """


@hookspec
def editrl_register_commands(app):
    """Add CLI commands.

    :param app: the root ``typer.Typer``; add a sub-app with ``app.add_typer(sub, name="...")``.
    """


@hookspec
def editrl_on_step_end(step, metrics, run_dir):
    """Observe a finished training step (loggers, alerts, early stopping by raising).

    :param step: the 1-based number of the step just finished.
    :param metrics: the flat metrics dict written to ``metrics.jsonl`` for this step.
    :param run_dir: the run directory (``pathlib.Path``).
    """
