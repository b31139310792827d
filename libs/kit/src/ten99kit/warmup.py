"""Work a process does once, ahead of need, off the event loop.

A library that is slow to import (fpdf2 with fontTools takes about 2.5 s of CPU) is imported
lazily so that an idle service stays small; done on first use, the first requests wait for it.
`warm_up_once` runs such a preparation in a thread, once per process, at a moment the service
knows it will soon be needed (an assignment arrived: certificates and invoices will follow).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .logging import get_logger

__all__ = ["warm_up_once"]

log = get_logger(__name__)

_started: set[str] = set()
_guard = threading.Lock()


def _run(name: str, prepare: Callable[[], object]) -> None:
    try:
        prepare()
    except Exception as e:  # a failed warm-up only means the first real use pays the cost
        log.warning("warm_up.failed", name=name, error=repr(e))


def warm_up_once(name: str, prepare: Callable[[], object]) -> bool:
    """Start ``prepare`` in a daemon thread unless ``name`` was started before; True if started."""
    with _guard:
        if name in _started:
            return False
        _started.add(name)
    threading.Thread(target=_run, args=(name, prepare), name=f"warm-up {name}", daemon=True).start()
    return True
