"""A set of local clusters sharing one etcd: start, stop, faults, and no leftovers.

Leftovers are prevented three ways: :meth:`Environment.stop` (also run by the
context manager, at interpreter exit and on SIGTERM) ends every process group;
each child gets SIGKILL if the Python process dies; and a run directory left by
a crashed run is found and cleaned the next time an environment starts.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from kubeops.testenv import rundir
from kubeops.testenv.assets import API_BINARIES, FULL_BINARIES, ensure_assets
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.errors import UnknownCluster
from kubeops.testenv.etcd import Etcd
from kubeops.testenv.exit_hooks import LiveSet

Progress = Callable[[str], None]

_live: LiveSet[Environment] = LiveSet(lambda env: env.stop())


class Environment:
    """Local clusters on 127.0.0.1: ``with Environment(clusters=2) as env: ...``.

    ``clusters`` is a count (named ``c1``, ``c2``, ...) or a list of names.
    ``api_only`` skips the controller-manager, scheduler and kwok for speed;
    ``metrics`` adds metrics-server, so metrics.k8s.io reports the usage a test sets
    with :meth:`Cluster.set_usage` (it costs a build on first use and ~15 s a start).
    ``directory`` keeps the run directory (and kubeconfigs) there instead of in
    a temporary directory that is removed on stop.  ``extra_args`` adds flags
    per component, e.g. ``{"kube-apiserver": ["--feature-gates=..."]}``.
    """

    def __init__(
        self,
        clusters: int | Sequence[str] = 1,
        *,
        nodes: int = 1,
        api_only: bool = False,
        metrics: bool = False,
        directory: Path | None = None,
        kubeconfig_dir: Path | None = None,
        ports: dict[str, int] | None = None,
        start_timeout: float = 120.0,
        extra_args: Mapping[str, Sequence[str]] | None = None,
        progress: Progress | None = None,
    ) -> None:
        names = (
            [f"c{i + 1}" for i in range(clusters)] if isinstance(clusters, int) else list(clusters)
        )
        if not names or len(set(names)) != len(names):
            raise ValueError(f"cluster names must be unique and at least one: {names}")
        self.names = names
        self.nodes = nodes
        if metrics and api_only:
            raise ValueError("metrics need kwok's simulated nodes; they cannot be API only")
        self.api_only = api_only
        self.metrics = metrics
        self._keep = directory is not None
        self.run_dir = directory.resolve() if directory else None
        self.kubeconfig_dir = kubeconfig_dir
        self.ports = dict(ports or {})
        self.start_timeout = start_timeout
        self.extra_args = {k: list(v) for k, v in (extra_args or {}).items()}
        self.progress: Progress = progress or (lambda _: None)
        self.etcd: Etcd | None = None
        self._clusters: dict[str, Cluster] = {}

    def __enter__(self) -> Environment:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def clusters(self) -> list[Cluster]:
        """The started clusters, in the order they were named."""
        return [self._clusters[name] for name in self.names if name in self._clusters]

    def cluster(self, name: str | None = None) -> Cluster:
        """The cluster called ``name`` (the first one when omitted)."""
        key = name or self.names[0]
        if key not in self._clusters:
            known = ", ".join(self.names)
            raise UnknownCluster(f"no cluster named {key!r} in this testenv (it has: {known})")
        return self._clusters[key]

    def start(self) -> None:
        """Start etcd and every cluster, after sweeping what crashed runs left behind."""
        started = time.monotonic()
        for stale, killed in rundir.sweep(rundir.default_base()):
            self.progress(f"cleaned {stale} left by a crashed run ({killed} process(es) ended)")
        needed = API_BINARIES if self.api_only else FULL_BINARIES
        if self.metrics:
            needed = (*needed, "metrics-server")
        assets = ensure_assets(needed, self.progress)
        if self.run_dir is None:
            base = rundir.default_base()
            base.mkdir(parents=True, exist_ok=True)
            self.run_dir = Path(tempfile.mkdtemp(prefix="env-", dir=base))
        rundir.claim(self.run_dir)
        _live.add(self)
        kube_dir = self.kubeconfig_dir or self.run_dir
        try:
            self.etcd = Etcd(
                assets, self.run_dir, self.start_timeout, self.extra_args.get("etcd", ())
            )
            self.etcd.start()
            for name in self.names:
                self._clusters[name] = Cluster(
                    name,
                    self.etcd,
                    assets,
                    self.run_dir,
                    kube_dir / f"{name}.kubeconfig",
                    nodes=self.nodes,
                    api_only=self.api_only,
                    metrics=self.metrics,
                    port=self.ports.get(name),
                    start_timeout=self.start_timeout,
                    extra_args=self.extra_args,
                    progress=self.progress,
                )
            _each(self.clusters, Cluster.start)
        except BaseException:
            self.stop()
            raise
        self.progress(
            f"testenv ready: {len(self.names)} cluster(s) in {time.monotonic() - started:.1f}s"
        )

    def stop(self) -> None:
        """Stop every process; remove the run directory unless it was given explicitly."""
        _each(list(self._clusters.values()), Cluster.stop)
        if self.etcd is not None:
            self.etcd.stop()
            self.etcd = None
        self._clusters.clear()
        if self.run_dir is not None and self in _live:
            rundir.release(self.run_dir, remove=not self._keep)
        _live.discard(self)

    def compact(self) -> int:
        """Compact etcd with every API server down, so old resourceVersions are gone.

        The API servers are stopped first: a running one's watch cache would keep
        serving history etcd no longer has, and a stopping one sends its watchers
        a bookmark at the latest revision.  A scratch write then moves the revision
        past that bookmark before the compaction, so afterwards a watch or list
        from any resourceVersion a client holds gets 410 Gone.
        """
        if self.etcd is None:
            raise UnknownCluster("the testenv is not running")
        _each(self.clusters, Cluster.stop_apiserver)
        self.etcd.advance()
        revision = self.etcd.compact()
        self.progress(f"etcd compacted at revision {revision}")
        _each(self.clusters, Cluster.start_apiserver)
        return revision

    def pids(self) -> list[int]:
        """Every running process this environment started."""
        pids = [pid for cluster in self.clusters for pid in cluster.pids()]
        if self.etcd is not None and self.etcd.process.pid is not None:
            pids.append(self.etcd.process.pid)
        return pids


def _each(clusters: Sequence[Cluster], step: Callable[[Cluster], None]) -> None:
    """``step`` on every cluster at once: each mostly waits for processes of its own (four
    full clusters took 33.1 s to start one after another, 10.8 s at once).  Every step
    ends before the first failure is raised."""
    if len(clusters) < 2:
        for cluster in clusters:
            step(cluster)
        return
    futures = [_STEPS.submit(step, cluster) for cluster in clusters]
    concurrent.futures.wait(futures)
    for future in futures:
        future.result()


_STEPS = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="testenv")
"""Never shut down: a component is killed when the thread that started it ends (it dies
with its parent, ``PR_SET_PDEATHSIG``, which Linux ties to the starting thread), so the
threads that start clusters must live as long as the process."""
