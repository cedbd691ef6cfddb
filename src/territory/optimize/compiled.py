"""Load (or compile) the engine's compiled kernels without overrunning a deadline.

The kernels (:mod:`territory.optimize.local_search`,
:mod:`territory.optimize.tree_kernel`) are numba functions cached next to
their sources. Loading them from the cache takes a fraction of a second once
per process; compiling them, after the sources changed or on a new machine,
takes tens of seconds of CPU. :func:`wait_until_ready` does either in a
background thread, by running the whole heuristic once on a drawn 2×3 grid
(so every kernel gets exactly the argument types of a real run), and waits
for it only until a deadline: a design run that cannot have its kernels in
time falls back to a pure-Python construction and still returns on time. The
compilation goes on in the background (the process exits once it is done),
so the next run finds the kernels in the cache.

The compiled code is process-wide state (numba keeps it per function), so the
readiness flag is too.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["kernels_ready", "wait_until_ready"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_ready = threading.Event()
_failed: list[BaseException] = []
_thread: threading.Thread | None = None


def _warm_up() -> None:
    """Run the heuristic on a tiny grid: loads or compiles every kernel."""
    import numpy as np

    from territory.optimize.heuristic import run_heuristic
    from territory.optimize.problem import DesignOptions, DesignProblem

    started = time.perf_counter()
    edges = [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)]
    coords = np.array([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]], float)
    problem = DesignProblem.from_edges(
        6, edges, np.ones((6, 2)), [0.0, 0.5], coords=coords
    )
    options = DesignOptions(2, method="heuristic", max_iterations=200, seed=0)
    targets = options.targets(problem)
    run_heuristic(
        problem,
        options,
        targets,
        problem.tolerances,
        np.ones(6, dtype=bool),
        time.perf_counter(),
        warm=True,
    )
    log.debug("compiled kernels ready after %.1f s", time.perf_counter() - started)


def _run() -> None:
    try:
        _warm_up()
    except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
        _failed.append(exc)
    finally:
        _ready.set()


def kernels_ready() -> bool:
    """True once the kernels are loaded (without waiting)."""
    return _ready.is_set() and not _failed


def wait_until_ready(deadline: float) -> bool:
    """Load or compile the kernels; wait for them until ``deadline`` at most.

    ``deadline`` is a ``time.perf_counter()`` value. Returns True when they
    are ready, False when the deadline came first (they keep loading in the
    background for the next run in this process). Re-raises an error of the
    loading itself.
    """
    global _thread
    if not _ready.is_set():
        with _lock:
            if _thread is None:
                # not a daemon: a compilation the deadline cut short still
                # finishes (before the process exits) and lands in the cache
                _thread = threading.Thread(
                    target=_run, name="territory-kernels", daemon=False
                )
                _thread.start()
        _ready.wait(timeout=max(0.0, deadline - time.perf_counter()))
    if _failed:
        raise _failed[0]
    if not _ready.is_set():
        log.warning(
            "the compiled search was still being compiled when the time limit "
            "ran out; the plan comes from the construction alone"
        )
    return _ready.is_set()
