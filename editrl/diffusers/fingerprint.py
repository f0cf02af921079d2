"""What a diffusers backbone's condition depends on, for the condition cache's key, and how many bytes of encoder
parameters a load without encoders leaves out; both from the model folder's files, without loading any weights.

The fingerprint of a hub model is its snapshot's commit (the folder ``snapshots/<commit>``) and the content of its
configs; of a local folder, the path, name, size and modification time of every file of the components the
condition reads (encoders, tokenizers, processor, VAE) and the content of the pipeline's and the transformer's
configs (a changed file, even one rewritten in place, changes its time). The library versions are part of it too:
an upgrade may change a template or the numerics, so it misses rather than reuse an entry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from editrl.diffusers.loading import BYTES


def _hash_files(h, folder: Path, sub: str, contents: bool) -> None:
    base = folder / sub
    files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else ([base] if base.is_file() else [])
    for path in files:
        stat = os.stat(path)  # follows the hub cache's symlinks to their blobs
        h.update(f"{path.relative_to(folder)}:{stat.st_size}".encode())
        if contents:
            h.update(path.read_bytes())
        else:
            h.update(f":{stat.st_mtime_ns}:{os.path.realpath(path)}".encode())


def condition_fingerprint(model: str, folder: Path, encoder_names: tuple[str, ...], subfolders: tuple[str, ...]) -> dict:
    """``{"weights": hex, "versions": {...}}`` for the model folder ``folder`` (configs at least) of ``model``."""
    import diffusers
    import transformers

    folder = Path(folder)
    h = hashlib.sha256()
    hub = not Path(model).expanduser().exists()
    if hub:  # the hub's snapshot folder is named by its commit; the weight files may not be downloaded yet
        h.update(f"hub:{model}@{folder.name}".encode())
    else:
        h.update(f"local:{folder.resolve()}".encode())
    _hash_files(h, folder, "model_index.json", contents=True)
    _hash_files(h, folder, "transformer/config.json", contents=True)  # latent channels, guidance embedding
    readers = [s for s in subfolders if s in encoder_names or s.startswith(("tokenizer", "processor"))]
    for sub in readers:
        if hub:
            for config in sorted((folder / sub).glob("*.json")):
                _hash_files(h, folder, str(config.relative_to(folder)), contents=True)
        else:
            _hash_files(h, folder, sub, contents=False)
    versions = {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__}
    return {"weights": h.hexdigest(), "versions": versions}


def parameter_bytes(folder: Path, whole: tuple[str, ...], vae_prefixes: tuple[str, ...], dtype: torch.dtype) -> int | None:
    """Bytes in ``dtype`` of the parameters in the safetensors files of the subfolders ``whole`` plus the ``vae``
    tensors whose names start with ``vae_prefixes``, read from the files' headers; None when a subfolder has no
    safetensors file (not downloaded)."""
    from safetensors import safe_open

    total = 0
    for sub, prefixes in [*((s, ("",)) for s in whole), ("vae", vae_prefixes)]:
        files = sorted((Path(folder) / sub).glob("*.safetensors"))
        if not files:
            return None
        for file in files:
            with safe_open(str(file), framework="pt") as f:
                for name in f.keys():
                    if name.startswith(prefixes):
                        numel = 1
                        for d in f.get_slice(name).get_shape():
                            numel *= d
                        total += numel * BYTES.get(dtype, 2)
    return total
