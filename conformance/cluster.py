"""The Dask cluster a command's tasks go to, where one is asked for (docs/cluster.md):

    --cluster local:N          a LocalCluster of N single-threaded worker processes, each
                               under a nanny that replaces it when it dies
    --scheduler [ADDRESS]      an existing cluster's scheduler (bare: Dask's own
                               configuration, `scheduler-address`)
    --scheduler-file FILE      the same, from the file `dask scheduler --scheduler-file` wrote

The options, the connection (it gives up after CONNECT_TIMEOUT seconds, in one line), and
`Pool`: the workers that may have work, each checked first. What runs on the workers is
the placements' own: a sweep's chunks (sweep/cluster.py), the matrix's cells
(matrix/cluster.py). `distributed` is imported only by `connect`, so that a command without
these options never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT = 5.0
#: Seconds a run waits for a worker that may have work (one joining, a nanny's
#: replacement) before it gives up.
PATIENCE = 60.0
#: Tasks in flight per worker: one running, one queued behind it.
IN_FLIGHT = 2
INSTALL = "pip install -c constraints.txt -r requirements/cluster.txt"


class ClusterError(RuntimeError):
    """The cluster cannot be used (a bad option, no scheduler, no worker that matches):
    one line."""


@dataclass(frozen=True)
class Options:
    local: int | None = None  # --cluster local:N
    address: str | None = None  # --scheduler ADDRESS ("": Dask's configuration)
    scheduler_file: str | None = None

    @property
    def flag(self) -> str:
        if self.local is not None:
            return f"--cluster local:{self.local}"
        if self.scheduler_file is not None:
            return "--scheduler-file"
        return "--scheduler"


def add_arguments(parser) -> None:
    """--cluster, --scheduler and --scheduler-file."""
    group = parser.add_argument_group("on a Dask cluster (docs/cluster.md)")
    group.add_argument(
        "--cluster",
        default=None,
        metavar="local:N",
        help="start a local Dask cluster of N single-threaded worker processes",
    )
    group.add_argument(
        "--scheduler",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="join the Dask cluster of this scheduler (bare: Dask's scheduler-address)",
    )
    group.add_argument(
        "--scheduler-file", default=None, metavar="FILE", help="join the cluster of this file"
    )


def options(args) -> Options | None:
    """The cluster the options ask for, None where they ask for none; ClusterError for a
    bad value (checked without importing Dask)."""
    given = [
        name
        for name, value in (
            ("--cluster", args.cluster),
            ("--scheduler", args.scheduler),
            ("--scheduler-file", args.scheduler_file),
        )
        if value is not None
    ]
    if not given:
        return None
    if len(given) > 1:
        raise ClusterError(f"give one of --cluster, --scheduler, --scheduler-file, not {given}")
    if args.cluster is not None:
        kind, _, count = args.cluster.partition(":")
        if kind != "local" or not count.isdigit() or int(count) < 1:
            raise ClusterError(
                f"--cluster {args.cluster!r}: local:N, with N worker processes (N >= 1)"
            )
        return Options(local=int(count))
    if args.scheduler_file is not None:
        if not Path(args.scheduler_file).is_file():
            raise ClusterError(f"--scheduler-file {args.scheduler_file}: no such file")
        return Options(scheduler_file=args.scheduler_file)
    return Options(address=args.scheduler)


def one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:300] if text else type(error).__name__


@contextlib.contextmanager
def connect(options: Options) -> Iterator:
    """A distributed.Client of the cluster `options` name, with at least one worker;
    ClusterError in one line where there is none (not installed, unreachable, no worker
    within PATIENCE seconds)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(
            f"{options.flag} needs distributed, which is not installed ({INSTALL})"
        ) from None
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its own lines: not ours
    with contextlib.ExitStack() as stack:
        if options.local is not None:
            try:
                cluster = LocalCluster(
                    n_workers=options.local,
                    threads_per_worker=1,
                    processes=True,  # each under a nanny
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            except Exception as error:
                raise ClusterError(f"{options.flag}: cannot start: {one_line(error)}") from None
            stack.enter_context(cluster)
            where = {"address": cluster}
        elif options.scheduler_file is not None:
            where = {"scheduler_file": options.scheduler_file}
        else:
            address = options.address or dask.config.get("scheduler-address", None)
            if not address:
                raise ClusterError(
                    "--scheduler without an address needs Dask's scheduler-address "
                    "(DASK_SCHEDULER_ADDRESS), which is not set"
                )
            where = {"address": address}
        what = where.get("scheduler_file") or where["address"]
        what = "the local cluster" if options.local is not None else f"the scheduler {what}"
        try:
            client = Client(**where, timeout=CONNECT_TIMEOUT)
        except OSError:  # refused, unreachable: distributed tries until the timeout
            raise ClusterError(f"cannot reach {what} within {CONNECT_TIMEOUT:g} s") from None
        except Exception as error:  # a malformed address, a scheduler file of another kind
            raise ClusterError(f"cannot reach {what}: {one_line(error)}") from None
        stack.enter_context(client)
        try:
            client.wait_for_workers(1, timeout=PATIENCE)
        except Exception:
            raise ClusterError(f"no Dask worker joined {what} within {PATIENCE:g} s") from None
        yield client


def differences(expected: dict, got: dict) -> str:
    """What of `got` differs from `expected`, in words; "" where nothing does."""
    return "; ".join(
        f"its {key} is {got.get(key)!r}, the client's {value!r}"
        for key, value in expected.items()
        if got.get(key) != value
    )


class Pool:
    """The workers of the cluster that may have work.

    Every worker, as it appears (those of the start, one that joins later, a nanny's
    replacement of one that died), first runs `probe()` (on itself alone); it gets work
    only if the result equals `expected`, fact for fact. One that differs, or whose probe
    fails, is refused with a line naming it and what differs (`say`), and gets nothing.
    The tasks' own check (`refuse`) can refuse a worker later.

    `place` runs tasks on them, restricted to the verified workers (`workers=`,
    `allow_other_workers=False`).
    """

    def __init__(self, client, probe: Callable[[], dict], expected: dict, say):
        self.client, self.probe, self.expected, self.say = client, probe, expected, say
        self.verified: dict[str, dict] = {}  # address -> its resources
        self.refused: dict[str, str] = {}  # address -> why
        self.lost: set[str] = set()  # verified, then gone
        self.names: dict[str, str] = {}
        self._probing: dict = {}  # future -> (address, its resources)
        self._allowed: dict = {}  # future -> the addresses it may run on
        self._seen: set[str] = set()
        self._waiting: deque = deque()

    def name(self, address: str) -> str:
        return self.names.get(address, address)

    def refresh(self) -> None:
        """Probe the workers that appeared, judge the probes that finished, forget the
        workers that left."""
        # Asked of the scheduler, not `Client.scheduler_info`, whose cache a periodic
        # update without the workers may overwrite before it returns.
        identity = self.client.sync(self.client.scheduler.identity, n_workers=-1)
        workers = identity["workers"]
        for address, worker in workers.items():
            if address in self._seen:
                continue
            self._seen.add(address)
            name = worker.get("name")
            self.names[address] = address if name in (None, "") else f"{address} ({name})"
            future = self.client.submit(
                self.probe, workers=[address], allow_other_workers=False, pure=False
            )
            self._probing[future] = (address, dict(worker.get("resources") or {}))
        for address in list(self.verified):
            if address not in workers:
                del self.verified[address]
                self.lost.add(address)
        for future, (address, resources) in list(self._probing.items()):
            if address not in workers:
                del self._probing[future]
                future.cancel()
            elif future.done():
                del self._probing[future]
                try:
                    why = differences(self.expected, future.result())
                except Exception as error:
                    why = f"its check failed: {one_line(error)}"
                if why:
                    self.refuse(address, why)
                else:
                    self.verified[address] = resources

    def refuse(self, address: str, why: str) -> None:
        if address in self.refused:
            return
        self.verified.pop(address, None)
        self.refused[address] = why
        self.say(f"refused Dask worker {self.name(address)}: {why}; it gets no work")

    def ready(self, started: bool) -> None:
        """Wait until a worker may have work: at the start (`started` False) until every
        worker there has been checked, later until one is verified. ClusterError where
        none can have work: at the start when every worker is refused, later after
        PATIENCE seconds without one (a nanny's replacement takes a few)."""
        since = time.monotonic()
        while True:
            self.refresh()
            if self.verified and (started or not self._probing):
                return
            why = "; ".join(f"{self.name(a)}: {w}" for a, w in self.refused.items())
            why = f" (refused: {why})" if why else ""
            if not started and not self._probing and self._seen <= set(self.refused):
                raise ClusterError(f"no Dask worker matches this machine{why}")
            if time.monotonic() - since > PATIENCE:
                if self.verified:  # a worker still being checked: it may join later
                    return
                raise ClusterError(
                    f"no Dask worker that matches this machine for {PATIENCE:g} s{why}"
                )
            time.sleep(0.1)

    def place(self, items, task) -> Iterator[tuple]:
        """Each of `items` as a task, IN_FLIGHT per verified worker at a time: `task(item)`
        gives (function, arguments, the resources it wants, say "GPU", "env-NAME"); it runs
        on the verified workers that declare each of those that some verified worker
        declares. Yields (item, its finished future) as they finish. A task whose workers
        are all gone (Dask would wait for one of them) is submitted again, and so is an
        item given back by `again` (a task refused by its worker's own check)."""
        self._waiting = waiting = deque(items)
        running: dict = {}  # future -> item
        checked = 0.0
        try:
            while waiting or running:
                if time.monotonic() - checked > 0.5:  # the scheduler asked twice a second
                    self.refresh()
                    checked = time.monotonic()
                for future in [f for f in running if self._stranded(f)]:
                    future.cancel()
                    waiting.appendleft(running.pop(future))
                if not self.verified:
                    self.ready(started=True)
                while waiting and len(running) < IN_FLIGHT * len(self.verified):
                    item = waiting.popleft()
                    function, arguments, wants = task(item)
                    running[self._submit(function, arguments, wants)] = item
                for future in self._wait(running, 0.5):
                    item = running.pop(future)
                    self._allowed.pop(future, None)
                    if future.cancelled():
                        waiting.appendleft(item)
                    else:
                        yield item, future
        finally:
            for future in running:
                future.cancel()

    def again(self, item) -> None:
        self._waiting.appendleft(item)

    def _submit(self, function, arguments, wants):
        declared = [r for r in wants if any(r in res for res in self.verified.values())]
        workers = [a for a, res in self.verified.items() if all(r in res for r in declared)]
        future = self.client.submit(
            function,
            *arguments,
            workers=sorted(workers),
            allow_other_workers=False,
            resources=dict.fromkeys(declared, 1) or None,
            pure=False,
        )
        self._allowed[future] = set(workers)
        return future

    def _stranded(self, future) -> bool:
        return not future.done() and not (self._allowed.get(future, set()) & set(self.verified))

    @staticmethod
    def _wait(futures, timeout: float) -> list:
        """The futures of `futures` that finish within `timeout` seconds (maybe none)."""
        from distributed import wait

        with contextlib.suppress(TimeoutError):
            wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        return [f for f in futures if f.done()]
