"""One cached row of a :class:`~editrl.interfaces.Condition` as a safetensors file ("shard").

Tensor fields are the file's tensors; other values (a grid size, RoPE frame shapes) and the names of fields that are
None go to the metadata as JSON, with the entry's key, the condition class and a SHA-256 of all of it. A shard is
written to a temporary file next to its place and moved there with ``os.replace``, so a reader, another process or a
run killed mid-write never sees half a file. Reading refuses (:class:`CorruptShard`) a file safetensors cannot parse
(truncated), whose checksum or key does not match, or whose fields no longer fit the class.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path

import torch

from editrl.cache.keys import FORMAT, tensor_digest
from editrl.interfaces import Condition


class CorruptShard(Exception):
    """A shard that must not be used (the message says why); the cache re-encodes its example."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _checksum(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(meta):
        h.update(f"{name}={meta[name]};".encode())
    for name in sorted(tensors):
        h.update(name.encode())
        tensor_digest(h, tensors[name])
    return h.hexdigest()


def _tuples(value):
    """JSON lists back to the tuples the condition dataclasses hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def write_shard(path: Path, row: Condition, key: str) -> None:
    """Write ``row`` (one example's condition) to ``path`` atomically (temporary file, then ``os.replace``)."""
    from safetensors.torch import save_file

    tensors, values, none = {}, {}, []
    for f in dataclasses.fields(row):
        value = getattr(row, f.name)
        if isinstance(value, torch.Tensor):
            tensors[f.name] = value.detach().to("cpu").contiguous().clone()  # own storage: safetensors refuses views
        elif value is None:
            none.append(f.name)
        else:
            values[f.name] = value
    meta = {
        "format": FORMAT, "key": key, "class": _class_name(type(row)),
        "values": json.dumps(values, sort_keys=True), "none": json.dumps(sorted(none)),
    }
    meta["checksum"] = _checksum(tensors, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_shard(path: Path, cls: type[Condition], key: str) -> Condition | None:
    """The row stored at ``path`` (CPU tensors); None when there is no file; :class:`CorruptShard` when it is not a
    complete, matching shard of ``key`` and ``cls``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name).clone() for name in f.keys()}  # not the file's mapping: a file
            # changed in place later (truncated by a full disk) must not fault a tensor in use
    except FileNotFoundError:
        return None
    except Exception as exc:  # SafetensorError (truncated, bad header), OSError, ...
        raise CorruptShard(f"{path}: not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    stored = meta.pop("checksum", None)
    if stored != _checksum(tensors, meta):
        raise CorruptShard(f"{path}: its checksum does not match its contents")
    if meta.get("format") != FORMAT or meta.get("key") != key or meta.get("class") != _class_name(cls):
        raise CorruptShard(f"{path}: it holds another entry ({meta.get('class')}, key {meta.get('key')})")
    try:
        values = {k: _tuples(v) for k, v in json.loads(meta["values"]).items()}
        none = dict.fromkeys(json.loads(meta["none"]))
        return cls(**tensors, **values, **none)
    except (KeyError, ValueError, TypeError) as exc:  # the class's fields changed since the shard was written
        raise CorruptShard(f"{path}: its fields do not fit {cls.__name__} ({exc})") from None
