"""Run a per-item function serially, over local processes, or on a dask cluster.

Results come back in input order. At most ``2 × workers`` items are in flight, so memory stays
flat however many images there are: workers read and write the files themselves and return
only small records.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from celltool.errors import CelltoolError, UsageError

BACKENDS = ("auto", "serial", "process", "dask")
ENV_SCHEDULER = "CELLTOOL_DASK_SCHEDULER"
MAX_WORKERS = 1024
# a dask scheduler address: [tcp:// or tls://]host:port (host: a name, IPv4 or [IPv6]), or
# another protocol's address (inproc://..., ucx://...)
ADDRESS = re.compile(r"((tcp|tls)://)?([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})")
OTHER_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://[^\s,]+")


@dataclass(frozen=True)
class ExecutorSpec:
    backend: str = "auto"
    workers: int = 0  # 0 = all cores
    scheduler: str | None = None  # dask scheduler address; None = a LocalCluster

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(f"--executor {self.backend!r}: choose one of {', '.join(BACKENDS)}")
        if not 0 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--workers {self.workers}: expected 0 (all cores) .. {MAX_WORKERS}")
        for source, address in (("--scheduler", self.scheduler),
                                (ENV_SCHEDULER, os.environ.get(ENV_SCHEDULER))):  # fmt: skip
            if address is not None:
                check_address(address, source)

    def n_workers(self, n_items: int) -> int:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        wanted = self.workers or cores or 1
        return max(1, min(wanted, n_items))


def check_address(address: str, source: str = "--scheduler") -> str:
    """A dask scheduler address ``[tcp://]host:port``; UsageError naming ``source`` if not."""
    found = ADDRESS.fullmatch(address.strip())
    other = OTHER_ADDRESS.fullmatch(address.strip()) and not address.startswith(("tcp", "tls"))
    if not other and (not found or not 0 < int(found[4]) < 65536):
        shown = address if len(address) <= 60 else address[:57] + "..."
        raise UsageError(
            f"{source} {shown!r}: expected a dask scheduler address HOST:PORT or "
            "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        )
    return address


def imap(
    func: Callable[[Any], Any], items: Iterable[Any], spec: ExecutorSpec, n_items: int
) -> Iterator[Any]:
    """``map(func, items)`` on the chosen backend, in order, with bounded look-ahead."""
    workers = spec.n_workers(n_items)
    backend = spec.backend
    if backend == "auto":
        backend = "dask" if (spec.scheduler or os.environ.get(ENV_SCHEDULER)) else "process"
    if backend == "process" and workers == 1:
        backend = "serial"
    if backend == "serial":
        yield from map(func, items)
    elif backend == "process":
        yield from _process_map(func, items, workers)
    else:
        yield from _dask_map(func, items, workers, spec.scheduler or os.environ.get(ENV_SCHEDULER))


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork is fast and keeps loaded plugins; avoid it once torch (threads) is in the process.
    if sys.platform.startswith("linux") and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _bounded(
    submit: Callable[[Any], Any], result: Callable[[Any], Any], items: Iterable[Any], window: int
) -> Iterator[Any]:
    pending: deque = deque()
    for item in items:
        pending.append(submit(item))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


def _check_picklable(func: Callable) -> None:
    """Fail before starting workers (a pickling error inside a pool can hang the process)."""
    import pickle

    try:
        pickle.dumps(func)
    except Exception as exc:
        raise RuntimeError(
            f"cannot send {func!r} to worker processes ({exc}); "
            "use a module-level function, or --executor serial"
        ) from None


def _process_map(func: Callable, items: Iterable, workers: int) -> Iterator[Any]:
    from concurrent.futures import ProcessPoolExecutor

    _check_picklable(func)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
        try:
            yield from _bounded(
                lambda it: pool.submit(func, it), lambda f: f.result(), items, 2 * workers
            )
        except BaseException:
            # Drop what has not started and wait for what has: a running item still writes
            # into the step's partial folder, which the caller deletes once this returns.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _dask_map(func: Callable, items: Iterable, workers: int, address: str | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster, wait
    except ImportError:
        raise UsageError(
            "the dask executor needs dask.distributed: pip install 'celltool[dask]'"
        ) from None
    cluster = None
    if address:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise CelltoolError(f"cannot reach the dask scheduler at {address} ({first})") from None
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    window = 2 * max(workers, 1)
    recent: deque = deque(maxlen=window)  # holds every future still in flight

    def submit(item: Any) -> Any:
        recent.append(client.submit(func, item, pure=False))
        return recent[-1]

    try:
        yield from _bounded(submit, lambda f: f.result(), items, window)
    except BaseException:
        # As for processes: let items in flight finish before the partial folder goes (dask
        # cannot tell a queued task from a running one, and cancelling does not stop either).
        wait(list(recent))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
