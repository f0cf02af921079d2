"""editrl: reward-driven post-training of flow-based instruction-guided image editors."""

from editrl.component import Component, ComponentConfig
from editrl.hookspecs import hookimpl
from editrl.registry import Registry

__version__ = "0.1.0"

__all__ = ["Component", "ComponentConfig", "Registry", "hookimpl", "__version__"]
