"""The condition cache: each example's encoded condition computed once, kept in RAM or in safetensors shards on disk,
so that later steps and epochs (and, with a whole split on disk, the whole run) call no encoder.

One module per concept:

* ``keys``: what an entry depends on (the backbone's :meth:`~editrl.interfaces.Backbone.condition_key`, the example's
  id and a content hash of its source and instruction), hashed;
* ``shards``: one row of a :class:`~editrl.interfaces.Condition` as a checksummed safetensors file, written
  atomically, and read back or refused as corrupt;
* ``store``: where entries live (``memory``: a dict; ``disk``: a shared folder of shards);
* ``lookup``: :class:`ConditionCache`, the engine's one way to get a batch's condition (hits read, misses encoded
  together and stored) and, for components that need them, its sources' latents; :func:`cached_condition` and
  :func:`cached_source_latents`, what the trainer and the evaluation call;
* ``fill``: the disk cache filled ahead of a run in fixed, resumable chunks (``editrl data encode``);
* ``install``: at start, how much of the run's examples the cache holds, loading the backbone with or without its
  encoders accordingly, and the one-line report.
"""

from editrl.cache.install import install_condition_cache
from editrl.cache.keys import backbone_key, example_key
from editrl.cache.lookup import ConditionCache, cached_condition, cached_source_latents
from editrl.cache.store import DiskStore, MemoryStore, default_cache_dir

__all__ = [
    "ConditionCache", "DiskStore", "MemoryStore", "backbone_key", "cached_condition", "cached_source_latents",
    "default_cache_dir",
    "example_key", "install_condition_cache",
]
