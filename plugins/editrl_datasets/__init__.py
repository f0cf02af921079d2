"""Datasets of real edit examples on disk."""

from editrl import hookimpl
from editrl_datasets.edit_folder import EditFolder


@hookimpl
def editrl_register_components(registry):
    registry.add(EditFolder)
