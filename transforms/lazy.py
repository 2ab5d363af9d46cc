"""Build-once caches for lazily loaded models, tables and profiles, safe under concurrent first use.

`functools.cache` lets two threads that arrive together both run the loader; loaders that fill
shared global state (langdetect's profile factory) then build it twice into one object and corrupt
it. `build_once` holds a per-function lock while a value is built, so each key is built exactly
once per process and every caller sees the finished value. Processes are separate interpreters and
build their own copy.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = object()


def build_once(loader: Callable[..., T]) -> Callable[..., T]:
    """Return `loader` memoised per positional arguments, each value built once under a lock."""
    values: dict[tuple[Any, ...], Any] = {}
    # RLock: a loader may call itself with other arguments (a table built from another table).
    lock = threading.RLock()

    @functools.wraps(loader)
    def cached(*args: Any) -> T:
        value = values.get(args, _MISSING)
        if value is not _MISSING:
            return value  # fast path without the lock: dict reads are atomic and values are final
        with lock:
            value = values.get(args, _MISSING)
            if value is _MISSING:
                value = loader(*args)
                values[args] = value
        return value

    def cache_clear() -> None:
        with lock:
            values.clear()

    def is_built(*args: Any) -> bool:
        return args in values

    cached.cache_clear = cache_clear  # type: ignore[attr-defined]
    cached.is_built = is_built  # type: ignore[attr-defined]
    return cached
