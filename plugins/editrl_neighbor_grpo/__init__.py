"""Builtin editrl plugin (being written)."""

from editrl import hookimpl


@hookimpl
def editrl_register_components(registry):
    pass
