"""The memory budget for FHIR answers: bytes read and parsed at once, per process, bounded.

Parsing JSON into Python objects takes about six times its size (a 45 MB searchset: 270 MB,
measured with orjson), and eight keys are fetched in parallel. Without a bound, pages that were
each under the size cap took a worker from 85 MB to 1.26 GB. An answer's bytes count from its
first byte until the hook's record is built (`answers_held`), when its objects are let go.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Raw bytes of FHIR answers alive at once in one process: with the ~6x of parsing, a worker's
# peak stays about 7 x this above its base (~130 MB): under 400 MB.
BUDGET_BYTES = 32_000_000
# Freed pages are handed back to the OS after a hook that held more than this (glibc keeps
# them otherwise: RSS stayed at its peak after the large pages were gone).
_TRIM_AFTER_BYTES = 4_000_000


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self._used + size > self.limit:
                return False
            self._used += size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self._used -= size

    @property
    def used(self) -> int:
        return self._used


class _Held:
    """Bytes of the answers read within one `answers_held` block, given back when it ends."""

    def __init__(self) -> None:
        self.size = 0
        self.open = True
        self._lock = threading.Lock()

    def keep(self, size: int) -> bool:
        with self._lock:
            if self.open:
                self.size += size
            return self.open

    def close(self) -> int:
        with self._lock:
            self.open = False
            return self.size


BUDGET = _Budget(BUDGET_BYTES)
_HELD: ContextVar[_Held | None] = ContextVar("fhir_answers_held", default=None)


def take(size: int) -> bool:
    """Count `size` more bytes of an answer being read; False when the budget has no room."""
    return BUDGET.take(size)


def parsed(size: int) -> None:
    """An answer of `size` counted bytes is parsed: held until the enclosing `answers_held`
    block ends (its objects live that long), else given back now."""
    held = _HELD.get()
    if held is None or not held.keep(size):
        BUDGET.give(size)


def give(size: int) -> None:
    """Give back the bytes of an answer dropped unparsed (refused, broken off)."""
    BUDGET.give(size)
    if size > _TRIM_AFTER_BYTES:
        trim_freed_memory()


@contextmanager
def answers_held() -> Iterator[None]:
    """FHIR answers read in this block (threads started with a copy of this context included)
    stay counted until it ends. A fetch still running then gives its bytes back itself."""
    held = _Held()
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)
        size = held.close()
        BUDGET.give(size)
        if size > _TRIM_AFTER_BYTES:
            trim_freed_memory()


def trim_freed_memory() -> None:
    """Hand the pages freed objects left back to the OS (glibc keeps them otherwise)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_MALLOC_TRIM = _malloc_trim()  # glibc only; elsewhere freed memory is left to the allocator
