"""Distributed execution with dask: windows, movie frames and batches of files as tasks.

The engine is dask.distributed, not our own: :class:`Engine` only chooses the scheduler
from one setting and gives the workflows three calls, ``submit`` (a task, whose
arguments may be earlier tasks: dask resolves the dependencies), ``as_completed``
(results in the order they arrive, so they can be written at once) and ``map`` (many
independent tasks with a bounded number in flight, so memory does not grow with their
number). What we write ourselves is this thin adapter: one string for the scheduler, one
clear error line for a scheduler that cannot be reached, and the in-process ``serial``
mode that runs the same task functions one after another as the reference.

``scheduler`` (the same word in every config, ``--scheduler`` on the command line):

==================  ===========================================================================
``serial``          no dask: every task in this process, in submission order (the reference)
``local``           a ``dask.distributed.LocalCluster`` on this machine (``workers`` processes,
                    default one per core, one thread each), started and closed by the engine
``tcp://HOST:PORT`` an existing dask.distributed scheduler (a cluster the user runs); the engine
                    connects within :data:`CONNECT_TIMEOUT_S` or raises :class:`SchedulerError`
==================  ===========================================================================

**Worker memory settings.** dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``
(to hand freed memory back to the system). Setting that variable switches off glibc's
adaptive mmap threshold, so every large numpy temporary is a fresh ``mmap`` with its page
faults: a 512 px LoG* window took 2.3 s in such a worker against 1.8 s in a plain process.
The local cluster's workers start without it (:func:`local_cluster`); for a cluster of your
own, unset it there (``distributed.nanny.pre-spawn-environ`` in its dask config).

The API also takes a ``distributed.Client`` object (used as is, not closed). Task functions
must be importable (module level) and deterministic: the results of ``serial``, ``local``
and a cluster are then the same (each workflow's tests compare them).

Examples
--------
>>> with Engine("serial") as engine:
...     squares = [engine.submit(pow, k, 2) for k in range(4)]
...     total = engine.submit(sum, squares)
...     engine.result(total)
14
>>> check_scheduler("tcp://10.0.0.5:8786"), check_scheduler("local")
('tcp://10.0.0.5:8786', 'local')
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardscope.errors import InputError, ParameterError

SERIAL = "serial"
LOCAL = "local"
#: Seconds the engine waits for an existing scheduler before giving up (the CLI's limit is 10 s).
CONNECT_TIMEOUT_S = 4.0
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx)://[^\s/:]+:\d{1,5}/?$")


class SchedulerError(InputError):
    """The dask scheduler named by ``scheduler`` cannot be reached (or started)."""


def check_scheduler(text: str) -> str:
    """``text`` if it names a scheduler (``serial``, ``local``, ``tcp://HOST:PORT``), else a ParameterError.

    Examples
    --------
    >>> check_scheduler("threads")
    Traceback (most recent call last):
    ...
    rewardscope.errors.ParameterError: scheduler 'threads' is none of serial, local or an address tcp://HOST:PORT
    """
    value = str(text).strip()
    if value in (SERIAL, LOCAL) or _ADDRESS.match(value):
        return value
    raise ParameterError(f"scheduler {text!r} is none of serial, local or an address tcp://HOST:PORT")


class ParallelConfig(BaseModel):
    """Where the tasks of a workflow run (defaults shared by the API and ``--scheduler``/``--workers``).

    Examples
    --------
    >>> ParallelConfig().scheduler, ParallelConfig(scheduler="tcp://127.0.0.1:8786").scheduler
    ('local', 'tcp://127.0.0.1:8786')
    """

    model_config = ConfigDict(extra="forbid")

    scheduler: str = Field(LOCAL, description="Where tasks run: local (a dask LocalCluster on this machine's "
                           "cores), serial (this process, one task after another) or tcp://HOST:PORT (an existing "
                           "dask.distributed cluster).")
    workers: int | None = Field(None, ge=1, le=1024, description="Worker processes of the local cluster "
                                "(default: one per core).")

    @field_validator("scheduler")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_scheduler(value)


def default_workers() -> int:
    """Cores this process may use (``os.sched_getaffinity`` where it exists)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class _Done:
    """A task the serial engine has run (its value, or the error it raised)."""

    value: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class Engine:
    """Runs task functions serially, on a local dask cluster, or on an existing one.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"serial"``, ``"local"``, ``"tcp://HOST:PORT"`` (see the module text) or a Client.
    workers : int, optional
        Worker processes of a ``local`` cluster (default :func:`default_workers`).

    Use it as a context manager: a local cluster is started on entry and closed on exit.
    """

    def __init__(self, scheduler: Any = LOCAL, *, workers: int | None = None) -> None:
        self._given_client = None
        if hasattr(scheduler, "submit") and hasattr(scheduler, "scheduler_info"):
            self._given_client, self.scheduler = scheduler, "client"
        else:
            self.scheduler = check_scheduler(scheduler)
        self.workers = workers
        self.client: Any = self._given_client
        self._cluster: Any = None

    @property
    def serial(self) -> bool:
        """True when tasks run in this process without dask."""
        return self.scheduler == SERIAL

    def __enter__(self) -> Engine:
        if self.serial or self.client is not None:
            return self
        if self.scheduler == LOCAL:
            self._start_local()
        else:
            self._connect(self.scheduler)
        return self

    def _start_local(self) -> None:
        from distributed import Client

        n = self.workers or default_workers()
        try:
            self._cluster = local_cluster(n)
            self.client = Client(self._cluster)
        except (OSError, RuntimeError) as exc:  # no free port, no processes; a script without a main guard
            self.close()
            raise SchedulerError(f"could not start a local dask cluster of {n} workers ({exc}); in a script, call "
                                 "rewardscope under `if __name__ == \"__main__\":` (the workers are new processes "
                                 "that import it), or use scheduler='serial'") from None

    def _connect(self, address: str) -> None:
        _probe(address)
        from distributed import Client

        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise _unreachable(address, exc) from None

    def close(self) -> None:
        """Close the client and the local cluster this engine started (a given Client stays open)."""
        if self.client is not None and self.client is not self._given_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client, self._cluster = self._given_client, None

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def n_workers(self) -> int:
        """Workers tasks run on (1 for serial)."""
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run (serial) or schedule ``fn(*args, **kwargs)``; arguments may be earlier tasks, or lists of them."""
        if self.client is not None:
            return self.client.submit(fn, *args, pure=False, **kwargs)
        try:
            return _Done(fn(*_values(args), **dict(zip(kwargs, _values(kwargs.values())))))
        except Exception as exc:  # raised again by result(), as dask does
            return _Done(error=exc)

    def result(self, task: Any) -> Any:
        """The value of a task (waits for it; raises the task's error)."""
        return task.result()

    def as_completed(self, tasks: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, value)`` as tasks finish (serial: in submission order)."""
        if self.client is None:
            for task in tasks:
                yield task, task.result()
            return
        from distributed import as_completed

        for future in as_completed(list(tasks)):
            yield future, future.result()

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *, in_flight: int | None = None,
            **kwargs: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(item, **kwargs))`` as they finish, with at most ``in_flight`` tasks queued.

        ``in_flight`` defaults to twice the number of workers: enough to keep them busy, few
        enough that the results waiting to be consumed (and the memory they take) do not
        grow with the number of items.
        """
        if self.client is None:
            for i, item in enumerate(items):
                yield i, fn(item, **kwargs)
            return
        from distributed import as_completed

        limit = in_flight or 2 * self.n_workers
        source = iter(enumerate(items))
        index: dict[str, int] = {}
        running = as_completed()
        for i, item in source:
            future = self.client.submit(fn, item, pure=False, **kwargs)
            index[future.key] = i
            running.add(future)
            if running.count() >= limit:
                break
        for future in running:
            value = future.result()
            i = index.pop(future.key)
            future.release()
            nxt = next(source, None)
            if nxt is not None:
                new = self.client.submit(fn, nxt[1], pure=False, **kwargs)
                index[new.key] = nxt[0]
                running.add(new)
            yield i, value


def local_cluster(n_workers: int, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` of ``n_workers`` processes, one thread each, without the malloc trim setting.

    See "Worker memory settings" above; the workers' profiler is off (there is no
    dashboard to show it). ``kwargs`` go to ``LocalCluster`` (defaults: no dashboard, only
    error logs).

    Parameters
    ----------
    n_workers : int
    **kwargs
        Other ``LocalCluster`` arguments.

    Returns
    -------
    distributed.LocalCluster
        Started; close it (or use it as a context manager).
    """
    import dask
    from distributed import LocalCluster

    env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
           if k != "MALLOC_TRIM_THRESHOLD_"}
    options = {"threads_per_worker": 1, "processes": True, "dashboard_address": None,
               "silence_logs": logging.ERROR, **kwargs}
    # no dashboard, so no use for the workers' statistical profiler (it samples the task's stack every 10 ms)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env, "distributed.worker.profile.enabled": False}):
        return LocalCluster(n_workers=n_workers, **options)


def _unreachable(address: str, exc: BaseException) -> SchedulerError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SchedulerError(f"cannot reach the dask scheduler at {address} ({reason}); start it "
                          "(dask scheduler) or use --scheduler local")


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://`` address (dask itself would retry until its timeout)."""
    import socket

    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise _unreachable(address, exc) from None


def _values(args: Iterable[Any]) -> list[Any]:
    """Serial mode: tasks among the arguments (also inside lists and tuples) replaced by their values."""
    out = []
    for a in args:
        if isinstance(a, _Done):
            out.append(a.result())
        elif isinstance(a, (list, tuple)) and any(isinstance(x, _Done) for x in a):
            out.append(type(a)(x.result() if isinstance(x, _Done) else x for x in a))
        else:
            out.append(a)
    return out


__all__ = ["CONNECT_TIMEOUT_S", "Engine", "LOCAL", "ParallelConfig", "SERIAL", "SchedulerError", "check_scheduler",
           "default_workers", "local_cluster"]
