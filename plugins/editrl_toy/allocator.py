"""CPU allocator tuning for the toy testbed's small, allocation-heavy forwards."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS after every large tensor.

    Activations of a few MB are otherwise mmapped and unmapped on every forward, and the page faults cost more than
    the arithmetic on some virtual machines: on the 2-core sandbox a 32 × 8 toy rollout takes about 0.35 s with this
    and 0.6–0.8 s without. Numerics are unaffected; the process keeps up to 1 GiB of freed heap. Process-wide and
    idempotent; a no-op (returning False) where glibc is not the allocator.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1  # serve allocations below 1 GiB from the heap
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1  # keep up to 1 GiB of freed heap
    except (OSError, AttributeError):
        return False
    return bool(ok)
