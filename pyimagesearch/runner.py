"""Work spread over this machine's cores or a cluster: one runner for a sweep's experiments, a folder's
photos and a print's tiles.

A Runner runs a function over items here (in order), in worker processes (spawned: TensorFlow does
not survive a fork) or as tasks on a Ray cluster, and yields the results as they finish. Each worker
gets an equal share of this machine's cores, which the function applies with limit_threads.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pyimagesearch.nn.conv.errors import SettingsError


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SettingsError(f"--workers must be a whole number >= 1, got {workers!r}")
    return workers


def limit_threads(threads: int) -> None:
    """Cap the backend's threads, so that N workers on one machine share its cores instead of fighting."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from pyimagesearch.runtime import start_backend

    start_backend([])  # a worker runs on its parent's backend: KERAS_BACKEND is inherited
    from pyimagesearch.nn.conv.backends import entry

    entry().limit_threads(threads)


def _call(function: Callable[[Any], Any], item: Any) -> Any:
    return function(item)


class Runner:
    """Runs a function over items here, in worker processes or as tasks on a Ray cluster; yields the
    results as they finish. One runner (its processes, its Ray connection) serves several map() calls:
    a sweep's experiments, or a print's tiles phase after phase.

    The function and items must pickle (a module-level function, plain values). With workers or Ray,
    each worker gets an equal share of this machine's cores (threads), which the function may apply
    with limit_threads.
    """

    def __init__(self, workers: int = 1, ray_address: str | None = None) -> None:
        self.workers = check_workers(workers)
        self.ray_address = ray_address
        cores = os.cpu_count() or 1
        self.threads: int | None = max(1, cores // workers) if ray_address or workers > 1 else None
        self._pool: Any = None
        self._ray: Any = None

    def describe(self) -> str:
        return f"Ray cluster {self.ray_address}" if self.ray_address else \
            f"{self.workers} worker{'s' * (self.workers > 1)}"

    def __enter__(self) -> Runner:
        if self.ray_address:
            try:
                import ray
            except ImportError:
                raise SettingsError("--ray-address needs Ray, an optional extra: pip install '.[ray]'") from None
            try:
                # Workers on other machines start Keras on this run's backend.
                backend = {"env_vars": {"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}}
                ray.init(address=self.ray_address, log_to_driver=False, runtime_env=backend)
            except Exception as e:  # Ray raises ConnectionError, ValueError, ... for a bad address
                raise SettingsError(f"--ray-address: cannot connect to a Ray cluster at '{self.ray_address}' "
                                    f"({e})") from None
            self._ray = ray
        elif self.workers > 1:
            import concurrent.futures as cf
            import multiprocessing

            # spawn, not fork: TensorFlow's runtime does not survive a fork.
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if self._pool is not None:
            # After Ctrl-C or an error nothing more is started, and what runs is not waited for.
            self._pool.shutdown(wait=error is None, cancel_futures=error is not None)
            self._pool = None
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    def map(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """function(item) for every item, yielded as each finishes (in order when run here)."""
        if self._ray is not None:
            task = self._ray.remote(num_cpus=self.threads)(_call)
            pending = [task.remote(function, item) for item in items]
            while pending:
                ready, pending = self._ray.wait(pending, num_returns=1)
                yield self._ray.get(ready[0])
        elif self._pool is not None:
            import concurrent.futures as cf

            # Two items a worker in flight at most: items are made as they are needed (a print's tiles
            # carry their pixels), and each worker has its next one waiting.
            todo = iter(items)
            pending = {self._pool.submit(function, item) for item in itertools.islice(todo, 2 * self.workers)}
            try:
                while pending:
                    finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for future in finished:
                        pending |= {self._pool.submit(function, item) for item in itertools.islice(todo, 1)}
                        yield future.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        else:
            for item in items:
                yield function(item)
