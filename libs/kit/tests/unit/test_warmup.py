"""`warm_up_once`: a preparation runs once per name, in a thread, and a failure is only logged."""

from __future__ import annotations

import threading
import uuid

from ten99kit import warm_up_once


def test_a_warm_up_runs_once_per_name_in_its_own_thread() -> None:
    name = f"test-{uuid.uuid4().hex}"
    ran: list[str] = []
    done = threading.Event()

    def prepare() -> None:
        ran.append(threading.current_thread().name)
        done.set()

    assert warm_up_once(name, prepare) is True
    assert warm_up_once(name, prepare) is False  # a second call starts nothing
    assert done.wait(10)
    assert ran == [f"warm-up {name}"]


def test_a_failing_warm_up_does_not_raise_and_is_not_retried() -> None:
    name = f"test-{uuid.uuid4().hex}"
    calls: list[int] = []
    finished = threading.Event()

    def prepare() -> None:
        calls.append(1)
        finished.set()
        raise RuntimeError("no fonts")

    assert warm_up_once(name, prepare) is True
    assert finished.wait(10)
    for t in threading.enumerate():
        if t.name == f"warm-up {name}":
            t.join(10)
    assert warm_up_once(name, prepare) is False
    assert calls == [1]
