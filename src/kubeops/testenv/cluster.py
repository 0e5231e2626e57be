"""One local cluster: an API server over a shared etcd, and by default the
controller-manager, the scheduler and kwok's simulated nodes.

Faults are real: :meth:`Cluster.restart_apiserver` stops the process and starts
it again on the same port over the same data; :meth:`Cluster.stop` and
:meth:`Cluster.start` take the whole cluster down and up again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.testenv import kubeconfig, metrics
from kubeops.testenv.admin import AdminClient
from kubeops.testenv.assets import KWOK_STAGES, Assets
from kubeops.testenv.errors import ComponentFailed, ControlPlaneError
from kubeops.testenv.etcd import Etcd
from kubeops.testenv.pki import (
    FRONT_PROXY_CLIENT,
    SERVICE_CLUSTER_IP_RANGE,
    ClusterPKI,
    create_cluster_pki,
    load_cluster_pki,
)
from kubeops.testenv.ports import HOST, ensure_free, free_port
from kubeops.testenv.process import Process

Progress = Callable[[str], None]

NODE_ANNOTATION = "kwok.x-k8s.io/node"
# What every container's log holds when a cluster first starts.
CONTAINER_LOG_LINES = ("kubeops testenv: container started", "kubeops testenv: ready")
_NOT_READY_TAINT = "node.kubernetes.io/not-ready"


class Cluster:
    """A Kubernetes control plane on 127.0.0.1 with its own PKI and kubeconfig."""

    def __init__(
        self,
        name: str,
        etcd: Etcd,
        assets: Assets,
        run_dir: Path,
        kubeconfig_path: Path,
        *,
        nodes: int = 1,
        api_only: bool = False,
        metrics: bool = False,
        port: int | None = None,
        start_timeout: float = 120.0,
        extra_args: Mapping[str, Sequence[str]] | None = None,
        progress: Progress = lambda _: None,
    ) -> None:
        self.name = name
        self.etcd = etcd
        self.assets = assets
        self.dir = run_dir / "clusters" / name
        self.run_dir = run_dir
        self.kubeconfig = kubeconfig_path
        self.nodes = 0 if api_only else nodes
        self.api_only = api_only
        if metrics and api_only:
            raise ValueError("metrics need kwok's simulated nodes; they cannot be API only")
        self.metrics = metrics
        self.port = port or free_port()
        self._port_chosen = port is not None
        self._ever_started = False
        self.start_timeout = start_timeout
        self.extra_args = {k: list(v) for k, v in (extra_args or {}).items()}
        self.progress = progress
        self._pki: ClusterPKI | None = None
        self._admin: AdminClient | None = None
        self.processes: dict[str, Process] = {}

    # -- public surface -------------------------------------------------------------------

    @property
    def server(self) -> str:
        """The API server's URL on loopback."""
        return f"https://{HOST}:{self.port}"

    @property
    def pki(self) -> ClusterPKI:
        """The cluster's certificates and keys (only once it has started)."""
        if self._pki is None:
            raise ControlPlaneError(f"cluster {self.name!r} has not been started")
        return self._pki

    @property
    def admin(self) -> AdminClient:
        """An admin REST connection, for set-up and assertions in tests."""
        if self._admin is None:
            self._admin = AdminClient(self.server, self.pki)
        return self._admin

    @property
    def etcd_prefix(self) -> str:
        """The etcd key prefix this cluster keeps its objects under."""
        return f"/clusters/{self.name}"

    def start(self) -> None:
        """Start every component and wait until the cluster is ready for work."""
        started = time.monotonic()
        if self._pki is None:
            fresh = not (self.dir / "pki" / "ca.crt").exists()
            pki_dir = self.dir / "pki"
            self._pki = (
                create_cluster_pki(pki_dir, self.name) if fresh else load_cluster_pki(pki_dir)
            )
            self._write_kubeconfigs()
        try:
            self._start_apiserver()
            if not self.api_only:
                self._start_workers()
        except BaseException:
            self.stop()
            raise
        mode = "API only" if self.api_only else f"{self.nodes} node(s)"
        mode += ", metrics.k8s.io" if self.metrics else ""
        self.progress(
            f"cluster {self.name}: ready at {self.server} ({mode}) in {time.monotonic() - started:.1f}s"
        )

    def stop(self) -> None:
        """Stop every component of this cluster (workers first); its data stays in etcd."""
        for name in (
            "metrics-server",
            "kwok",
            "kube-scheduler",
            "kube-controller-manager",
            "kube-apiserver",
        ):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def restart_apiserver(self) -> None:
        """Stop the API server and start it again on the same port over the same data."""
        self.progress(f"cluster {self.name}: restarting kube-apiserver")
        self.stop_apiserver()
        self._start_apiserver()

    def stop_apiserver(self) -> None:
        """Stop only the API server: the cluster is unreachable until :meth:`start_apiserver`.

        Its data stays in etcd and its port is kept, as when a member cluster's
        control plane goes down and comes back.
        """
        process = self.processes.pop("kube-apiserver", None)
        if process is not None:
            self.progress(f"cluster {self.name}: stopping kube-apiserver")
            process.stop()

    def start_apiserver(self) -> None:
        """Start the API server stopped by :meth:`stop_apiserver`, on the same port."""
        if "kube-apiserver" not in self.processes:
            self._start_apiserver()

    def running(self) -> dict[str, int | None]:
        """Each component's pid, None for one that has exited."""
        return {name: (p.pid if p.alive() else None) for name, p in self.processes.items()}

    def pids(self) -> list[int]:
        """The process ids of the cluster's running components."""
        return [pid for pid in self.running().values() if pid is not None]

    def ready(self) -> bool:
        """Whether the API server is running and answers ``/readyz``."""
        return "kube-apiserver" in self.processes and self.admin.ready()

    def service_account_kubeconfig(
        self,
        name: str,
        rules: Sequence[Mapping[str, Any]],
        namespace: str = "default",
        *,
        cluster_wide: bool = False,
        expiration_seconds: int = 3600,
        path: Path | None = None,
    ) -> Path:
        """Create a ServiceAccount allowed exactly ``rules`` and write a kubeconfig for it.

        The rules go into a Role in ``namespace`` (or a ClusterRole when
        ``cluster_wide``); the kubeconfig carries a TokenRequest token.
        """
        admin = self.admin
        ns = f"/api/v1/namespaces/{namespace}"
        admin.create(ns.rsplit("/", 1)[0], _namespace(namespace), exist_ok=True)
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
        admin.create(f"{ns}/serviceaccounts", sa, exist_ok=True)
        kind = "ClusterRole" if cluster_wide else "Role"
        base = "/apis/rbac.authorization.k8s.io/v1" + (
            "" if cluster_wide else f"/namespaces/{namespace}"
        )
        role_name = f"kubeops-testenv:{name}" if cluster_wide else name
        role = {"metadata": {"name": role_name}, "rules": [dict(r) for r in rules]}
        admin.request("DELETE", f"{base}/{kind.lower()}s/{role_name}", ok=(404,))
        admin.create(f"{base}/{kind.lower()}s", role)
        binding = {
            "metadata": {"name": role_name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        admin.request("DELETE", f"{base}/{kind.lower()}bindings/{role_name}", ok=(404,))
        admin.create(f"{base}/{kind.lower()}bindings", binding)
        token = admin.create(
            f"{ns}/serviceaccounts/{name}/token",
            {"spec": {"expirationSeconds": expiration_seconds}},
        )["status"]["token"]
        config = kubeconfig.kubeconfig(
            self.name, self.server, self.pki.ca.cert_pem, name, {"token": token}, namespace
        )
        target = path or self.kubeconfig.with_name(f"{self.name}-{namespace}-{name}.kubeconfig")
        return write_kubeconfig(target, config)

    @property
    def container_log_file(self) -> Path:
        """The log every container on this cluster's kwok nodes shows (CRI log format).

        It starts with :data:`CONTAINER_LOG_LINES`; add lines with
        :meth:`append_container_log`, which ``kubectl logs --follow`` then shows.
        """
        return self.dir / "container.log"

    def append_container_log(
        self, *lines: str, stream: str = "stdout", at: datetime | None = None
    ) -> None:
        """Append ``lines`` to :attr:`container_log_file`, stamped ``at`` (default: now)."""
        stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.container_log_file.open("a", encoding="utf-8") as file:
            file.writelines(f"{stamp} {stream} F {line}\n" for line in lines)

    # -- components -------------------------------------------------------------------------

    def _write_kubeconfigs(self) -> None:
        pki = self.pki
        ca = pki.ca.cert_pem
        for path, user, pair in (
            (self.kubeconfig, "admin", pki.admin),
            (
                self.dir / "controller-manager.kubeconfig",
                "controller-manager",
                pki.controller_manager,
            ),
            (self.dir / "scheduler.kubeconfig", "scheduler", pki.scheduler),
        ):
            creds = kubeconfig.cert_credentials(pair.cert_pem, pair.key_pem)
            write_kubeconfig(path, kubeconfig.kubeconfig(self.name, self.server, ca, user, creds))

    def _process(self, name: str, args: list[str]) -> Process:
        args = [*args, *self.extra_args.get(name, ())]
        process = Process(name, args, self.dir / "logs" / f"{name}.log", self.run_dir, self.name)
        self.processes[name] = process
        return process

    def _start_apiserver(self) -> None:
        pki = self.pki
        # A free port is re-picked once if another process grabbed it meanwhile;
        # a port the caller chose, or one a restart must keep, is never changed.
        for attempt in range(2):
            try:
                ensure_free(self.port, f"kube-apiserver of cluster {self.name!r}")
            except ControlPlaneError:
                if self._port_chosen or self._ever_started or attempt:
                    raise
                self.port = free_port()
                self._write_kubeconfigs()
                continue
            break
        process = self._process(
            "kube-apiserver",
            [
                str(self.assets.path("kube-apiserver")),
                f"--etcd-servers={self.etcd.url}",
                f"--etcd-prefix={self.etcd_prefix}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                # Loopback may not be published as the kubernetes Service endpoint.
                "--endpoint-reconciler-type=none",
                f"--secure-port={self.port}",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.apiserver.cert_file}",
                f"--tls-private-key-file={pki.apiserver.key_file}",
                f"--client-ca-file={pki.ca.cert_file}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=true",
                # Close open watches quickly on shutdown so restarts take seconds, not the
                # full drain; clients see the same closed stream as in a real rollout.
                "--shutdown-watch-termination-grace-period=1s",
                "--profiling=false",
                # The aggregation layer, set up as in a real cluster: extension API
                # servers (metrics-server) trust user headers only from this client.
                f"--requestheader-client-ca-file={pki.front_proxy_ca.cert_file}",
                f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={pki.front_proxy_client.cert_file}",
                f"--proxy-client-key-file={pki.front_proxy_client.key_file}",
            ],
        )
        process.start()
        process.wait_ready(self.admin.ready, self.start_timeout)
        self._ever_started = True

    def _start_workers(self) -> None:
        pki = self.pki
        self._create_nodes()
        kcm_port, sched_port, kwok_port = (free_port() for _ in range(3))
        kwok_configs = [self._write_container_logs_config()]
        if self.metrics:
            kwok_configs.append(self.dir / "kwok-metrics.yaml")
            kwok_configs[-1].write_text(metrics.kwok_config())
        kcm = self._process(
            "kube-controller-manager",
            [
                str(self.assets.path("kube-controller-manager")),
                f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
                f"--bind-address={HOST}",
                f"--secure-port={kcm_port}",
                f"--cert-dir={self.dir / 'controller-manager-certs'}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca.cert_file}",
                f"--cluster-signing-cert-file={pki.ca.cert_file}",
                f"--cluster-signing-key-file={pki.ca.key_file}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--profiling=false",
            ],
        )
        scheduler = self._process(
            "kube-scheduler",
            [
                str(self.assets.path("kube-scheduler")),
                f"--kubeconfig={self.dir / 'scheduler.kubeconfig'}",
                f"--bind-address={HOST}",
                f"--secure-port={sched_port}",
                f"--cert-dir={self.dir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
            ],
        )
        kwok = self._process(
            "kwok",
            [
                str(self.assets.path("kwok")),
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self.assets.path(KWOK_STAGES)}",
                *(f"--config={config}" for config in kwok_configs),
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.1/16",
                f"--node-ip={HOST}",
                # kwok serves plain HTTP and HTTPS (a self-signed certificate) on one port;
                # publishing it as the nodes' kubelet port lets the API server reach it for
                # pods/log (it does not verify kubelet certificates unless
                # --kubelet-certificate-authority is set, and kwok asks no client cert).
                f"--node-port={kwok_port}",
                f"--server-address={HOST}:{kwok_port}",
            ],
        )
        for process in (kcm, scheduler, kwok):
            process.start()
        timeout = self.start_timeout
        kcm.wait_ready(lambda: _healthz(f"https://{HOST}:{kcm_port}/healthz"), timeout)
        scheduler.wait_ready(lambda: _healthz(f"https://{HOST}:{sched_port}/healthz"), timeout)
        kwok.wait_ready(lambda: _healthz(f"http://{HOST}:{kwok_port}/healthz"), timeout)
        self._await(kwok, "all nodes Ready and schedulable", self._nodes_ready, timeout)
        self._await(
            kcm,
            "the default ServiceAccount",
            lambda: self.admin.exists("/api/v1/namespaces/default/serviceaccounts/default"),
            timeout,
        )
        if self.metrics:
            self._start_metrics_server()

    def _start_metrics_server(self) -> None:
        pki = self.pki
        kubeconfig_path = self.dir / "metrics-server.kubeconfig"
        creds = kubeconfig.cert_credentials(pki.metrics_server.cert_pem, pki.metrics_server.key_pem)
        write_kubeconfig(
            kubeconfig_path,
            kubeconfig.kubeconfig(self.name, self.server, pki.ca.cert_pem, "metrics-server", creds),
        )
        port = free_port()
        process = self._process(
            "metrics-server",
            metrics.metrics_server_args(
                self.assets.path("metrics-server"),
                kubeconfig_path,
                port,
                self.dir / "metrics-server-certs",
            ),
        )
        metrics.register(self, port)
        process.start()
        timeout = self.start_timeout
        process.wait_ready(lambda: _healthz(f"https://{HOST}:{port}/readyz"), timeout)
        self._await(
            process, "metrics.k8s.io served for every node", lambda: metrics.served(self), timeout
        )

    def set_usage(
        self,
        obj: Mapping[str, Any],
        *,
        cpu: str | float | None = None,
        memory: str | int | None = None,
    ) -> None:
        """Make a Pod or Node use ``cpu``/``memory`` as metrics.k8s.io will report it
        (needs ``metrics=True``); see :func:`kubeops.testenv.metrics.set_usage`."""
        self._need_metrics()
        metrics.set_usage(self, obj, cpu=cpu, memory=memory)

    def wait_usage(
        self,
        obj: Mapping[str, Any],
        *,
        cpu: str | float | None = None,
        memory: str | int | None = None,
        tolerance: float = 0.05,
        timeout: float = 90.0,
    ) -> dict[str, float]:
        """Wait until metrics.k8s.io reports these figures (within ``tolerance``, a
        fraction) for the Pod or Node; returns what it reported (``{"cpu": cores,
        "memory": bytes}``)."""
        self._need_metrics()
        return metrics.wait_usage(
            self, obj, cpu=cpu, memory=memory, tolerance=tolerance, timeout=timeout
        )

    def _need_metrics(self) -> None:
        if not self.metrics:
            raise ControlPlaneError(
                f"cluster {self.name!r} does not serve metrics.k8s.io; start it with "
                "metrics=True (the metrics_cluster fixture does)"
            )

    def _write_container_logs_config(self) -> Path:
        """Give every container of every pod :attr:`container_log_file` as its log.

        A kwok ClusterLogs object with no selector and no container list matches
        all; the file is in the CRI log format the kubelet reads, and kwok serves
        ``pods/log`` from it (tail, since, timestamps and follow included).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.container_log_file.exists():
            self.append_container_log(*CONTAINER_LOG_LINES)
        config = self.dir / "kwok-logs.yaml"
        config.write_text(
            "apiVersion: kwok.x-k8s.io/v1alpha1\n"
            "kind: ClusterLogs\n"
            "metadata:\n"
            "  name: kubeops-testenv\n"
            "spec:\n"
            "  logs:\n"
            f"  - logsFile: {json.dumps(str(self.container_log_file))}\n"
            "    follow: true\n"
        )
        return config

    def _await(
        self, owner: Process, what: str, condition: Callable[[], bool], timeout: float
    ) -> None:
        try:
            owner.wait_ready(condition, timeout, interval=0.2)
        except ComponentFailed as err:
            raise owner.failure(f"did not bring {what} in {timeout:.0f}s") from err

    def _create_nodes(self) -> None:
        version = self.assets.pins.kubernetes if self.assets.pins else ""
        for index in range(self.nodes):
            node = _node(f"kwok-node-{index}", version)
            if self.metrics:
                path = metrics.METRICS_PATH.format(name=node["metadata"]["name"])
                node["metadata"]["annotations"][metrics.METRICS_PATH_ANNOTATION] = path
            self.admin.create("/api/v1/nodes", node, exist_ok=True)

    def _nodes_ready(self) -> bool:
        items: Iterable[dict[str, Any]] = self.admin.get("/api/v1/nodes")["items"]
        ready = 0
        for node in items:
            if NODE_ANNOTATION not in node["metadata"].get("annotations", {}):
                continue
            conditions = node.get("status", {}).get("conditions", [])
            taints = node.get("spec", {}).get("taints", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) and not any(
                t["key"] == _NOT_READY_TAINT for t in taints
            ):
                ready += 1
        return ready >= self.nodes


def _healthz(url: str) -> bool:
    try:
        return httpx.get(url, verify=False, timeout=1.0).text == "ok"  # self-signed, loopback
    except httpx.HTTPError:
        return False


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _node(name: str, kubelet_version: str) -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
        },
    }
