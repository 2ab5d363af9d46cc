"""A process-wide progress listener, so the CLI can draw a bar while the flow runs its tasks."""

from __future__ import annotations

import threading
from typing import Protocol


class Listener(Protocol):
    def start(self, total: int, description: str) -> None: ...
    def advance(self, label: str) -> None: ...
    def stop(self) -> None: ...


_listener: Listener | None = None
_lock = threading.Lock()


def set_listener(listener: Listener | None) -> None:
    """Install (or remove, with None) the listener that receives progress events."""
    global _listener
    _listener = listener


def start(total: int, description: str) -> None:
    """Announce `total` units of work."""
    if _listener is not None:
        with _lock:
            _listener.start(total, description)


def advance(label: str) -> None:
    """Report one finished unit of work."""
    if _listener is not None:
        with _lock:
            _listener.advance(label)


def stop() -> None:
    """Announce the end of the work."""
    if _listener is not None:
        with _lock:
            _listener.stop()
