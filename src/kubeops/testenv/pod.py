"""A mini kubelet: run a rendered pod template's container from an image's root
filesystem, as it would run in a Pod, on a testenv cluster.

What runs is what the image holds (its root filesystem, mounted read-only when the
securityContext says so) under the user the pod or image names, and it
authenticates as the pod's ServiceAccount: the token comes from the TokenRequest
API and is written with the cluster's CA and the namespace where the kubelet puts
them.  Volume directories are written as the kubelet's atomic writer does (files
in a timestamped directory, ``..data`` swapped by one rename), so a rotated token
appears the way it does in a cluster.  The container shares the host's network
(the API server is on loopback), so two replicas get different host ports through
``port_map``.  Needs root: ``unshare --mount --uts``, overlay and bind mounts, and
``chroot --userspec``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shlex
import shutil
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from kubeops.testenv.cluster import Cluster
from kubeops.testenv.podfs import AtomicDir, PodError, image_user, path_inside
from kubeops.testenv.ports import HOST, free_port
from kubeops.testenv.process import Process

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The pod's IP: it shares the host's network namespace, as a hostNetwork pod would.
POD_IP = HOST
# The kubelet's default for projected service account tokens (1 h, plus jitter).
TOKEN_SECONDS = 3607
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_PORT_ARG = re.compile(r"^(.*[:=])(\d+)$")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class Image(Protocol):
    """What the runner needs of an image: its unpacked root filesystem and OCI config."""

    def rootfs(self) -> Path:
        """The unpacked root filesystem (only read)."""
        ...

    def config(self) -> dict[str, Any]:
        """The OCI image config (User, Env, Entrypoint, Cmd, WorkingDir)."""
        ...


@dataclass(frozen=True)
class TokenRotation:
    """One rotation: the token replaced, the Secret it was bound to, and its successor."""

    old_token: str
    old_binding: str
    new_token: str


@dataclass
class _Token:
    audience: str | None
    expiration: int
    value: str = ""
    binding: str = ""


@dataclass
class _Volume:
    """A materialised volume: its host directory and, for projected ones, how to
    render its files again (a rotated token rewrites them)."""

    path: Path
    render: Any = None  # Callable[[], dict[str, tuple[bytes, int]]] for atomic volumes
    has_token: bool = False
    fs_group: int | None = None

    def write(self) -> None:
        """(Re)write an atomic volume's files from its sources."""
        AtomicDir(self.path, self.fs_group).write(self.render())


@dataclass
class _Mount:
    source: Path
    target: str
    read_only: bool


@dataclass
class _Plan:
    """Everything the start script needs, resolved before anything is started."""

    mounts: list[_Mount] = field(default_factory=list)
    files: list[_Mount] = field(default_factory=list)


def run_pod(
    cluster: Cluster,
    rootfs: Path | Image,
    pod_template: Mapping[str, Any],
    *,
    namespace: str,
    name: str,
    port_map: Mapping[int, int] | None = None,
    extra_env: Mapping[str, str] | None = None,
    container: str | None = None,
    image_config: Mapping[str, Any] | None = None,
) -> RunningPod:
    """Start ``pod_template``'s container (``container``, else the one named
    ``kubeops``, else the first) as Pod ``name`` in ``namespace`` of ``cluster``.

    ``rootfs`` is the image's unpacked root filesystem, or an image object with
    ``rootfs()`` and ``config()``; ``image_config`` gives the OCI config when only
    a path is given (its ``User``, ``Env``, ``Entrypoint`` and ``Cmd`` apply as a
    container runtime applies them).  Each container port is served on the host
    port ``port_map`` gives it (a free one when missing): an argument or env value
    ending in ``:PORT`` or ``=PORT`` is rewritten.  ``extra_env`` is added last.
    Returns at once; wait on the pod's probes with ``eventually``.
    """
    if os.geteuid() != 0:
        raise PodError(f"pod {namespace}/{name}: running a pod needs root (mounts, chroot)")
    if isinstance(rootfs, Path):
        root, config = rootfs, dict(image_config or {})
    else:
        root, config = rootfs.rootfs(), dict(image_config or rootfs.config())
    pod = RunningPod(cluster, root, config.get("config", config), pod_template, namespace, name)
    pod.start(port_map or {}, extra_env or {}, container)
    return pod


class RunningPod:
    """A pod started by :func:`run_pod`: its ports, log, token rotation and stop."""

    def __init__(
        self,
        cluster: Cluster,
        rootfs: Path,
        image_config: Mapping[str, Any],
        template: Mapping[str, Any],
        namespace: str,
        name: str,
    ) -> None:
        self.cluster = cluster
        self.rootfs = rootfs.resolve()
        self.image_config = image_config
        self.template = template
        self.spec: Mapping[str, Any] = template.get("spec") or {}
        self.namespace = namespace
        self.name = name
        self.dir = cluster.run_dir / "pods" / f"{namespace}.{name}"
        self.uid = ""
        self.user = (0, 0)
        self.groups: list[int] = []
        self.ports: dict[int, int] = {}
        self._tokens: dict[str | None, _Token] = {}
        self._volumes: dict[str, _Volume] = {}
        self._process: Process | None = None
        self._generation = 0
        self._last_code: int | None = None
        self.fs_group: int | None = None
        self.read_only_root = False
        self._path = _DEFAULT_PATH

    # -- public surface ------------------------------------------------------------------

    @property
    def service_account(self) -> str:
        """The ServiceAccount the pod runs as."""
        return str(self.spec.get("serviceAccountName") or "default")

    @property
    def token(self) -> str:
        """The service account token the pod holds now (default audience)."""
        return self._tokens[None].value

    @property
    def log_file(self) -> Path:
        """The container's stdout and stderr, interleaved."""
        return self.dir / "container.log"

    def logs(self) -> str:
        """The container's output so far."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def port(self, container_port: int) -> int:
        """The host port serving ``container_port``."""
        try:
            return self.ports[container_port]
        except KeyError:
            raise PodError(
                f"pod {self.namespace}/{self.name}: no container port {container_port} "
                f"(it has {sorted(self.ports)})"
            ) from None

    def url(self, container_port: int, path: str = "/") -> str:
        """An http URL on loopback for ``path`` on ``container_port``."""
        return f"http://{HOST}:{self.port(container_port)}{path}"

    def exit_code(self) -> int | None:
        """The container's exit code once it exited (128 + signal when killed), else None."""
        if self._process is None:
            return self._last_code
        return _exit_code(self._process.exit_code())

    def container_pid(self) -> int | None:
        """The pid of the container's own process (what the command runs as), once started."""
        if self._process is None or self._process.pid is None:
            return None
        pid = self._process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def host_path(self, path: str) -> Path:
        """Where the container's ``path`` is, seen from the host while it runs (through
        ``/proc/<pid>/root``, the image's symlinks resolved inside the image)."""
        pid = self.container_pid()
        if pid is None:
            raise PodError(f"pod {self.namespace}/{self.name} is not running")
        return Path(f"/proc/{pid}/root{path_inside(self.rootfs, path)}")

    def alive(self) -> bool:
        """Whether the container is running."""
        return self._process is not None and self._process.alive()

    def rotate_token(self, *, invalidate_old: bool = False) -> TokenRotation:
        """Request fresh tokens and swap them into every token volume atomically.

        Each token is bound to a Secret of its own, so deleting that Secret
        (``invalidate_old``, or :meth:`invalidate`) revokes exactly the old token.
        """
        if None not in self._tokens:
            raise PodError(f"pod {self.namespace}/{self.name} holds no service account token")
        replaced = {aud: (tok.value, tok.binding) for aud, tok in self._tokens.items()}
        for token in self._tokens.values():
            self._request_token(token)
        for volume in self._volumes.values():
            if volume.has_token:
                volume.write()
        old_token, old_binding = replaced[None]
        if invalidate_old:
            for _, binding in replaced.values():
                self.invalidate(binding)
        return TokenRotation(old_token, old_binding, self._tokens[None].value)

    def invalidate(self, binding: str) -> None:
        """Delete the Secret a token was bound to: the API server then refuses that token."""
        self.cluster.admin.delete(f"/api/v1/namespaces/{self.namespace}/secrets/{binding}")

    async def stop(self, grace: float = 30.0) -> int:
        """SIGTERM the container, SIGKILL it after ``grace`` seconds; its exit code."""
        process = self._process
        if process is None or process.pid is None:
            return self._last_code if self._last_code is not None else 0
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while process.exit_code() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        code = process.exit_code()
        await asyncio.to_thread(process.stop, 0.0)
        self._process = None
        final = _exit_code(code)
        self._last_code = final if final is not None else 128 + signal.SIGKILL
        return self._last_code

    # -- start ---------------------------------------------------------------------------

    def start(
        self, port_map: Mapping[int, int], extra_env: Mapping[str, str], container: str | None
    ) -> None:
        """Materialise volumes and env, then start the container (see :func:`run_pod`)."""
        spec_container = self._container(container)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.log_file.write_bytes(b"")
        for port in spec_container.get("ports") or []:
            cport = int(port["containerPort"])
            self.ports[cport] = int(port_map.get(cport) or free_port())
        for cport, hport in port_map.items():
            self.ports.setdefault(int(cport), int(hport))
        self._security(spec_container)
        plan = _Plan()
        if self.spec.get("automountServiceAccountToken", True) is not False:
            volume = self._service_account_volume()
            plan.mounts.append(_Mount(volume.path, SERVICE_ACCOUNT_DIR, True))
        for volume_spec in self.spec.get("volumes") or []:
            self._volumes[volume_spec["name"]] = self._volume(volume_spec)
        for mount in spec_container.get("volumeMounts") or []:
            plan.mounts.append(self._mount(mount))
        plan.files.extend(self._etc_files())
        env = self._env(spec_container, extra_env)
        command = self._command(spec_container, env)
        script = self._script(plan, command, spec_container)
        self._process = Process(
            f"pod/{self.namespace}/{self.name}",
            [
                _host_tool("unshare"),
                "--mount",
                "--uts",
                "--fork",
                "--kill-child",
                "/bin/sh",
                "-ec",
                script,
            ],
            self.log_file,
            self.cluster.run_dir,
            self.cluster.name,
            env=env,
        )
        self._process.start()

    def _container(self, wanted: str | None) -> Mapping[str, Any]:
        containers = self.spec.get("containers") or []
        if not containers:
            raise PodError(f"pod {self.namespace}/{self.name}: the template has no containers")
        for candidate in containers:
            if candidate.get("name") == (wanted or "kubeops"):
                return dict(candidate)
        if wanted:
            names = [c.get("name") for c in containers]
            raise PodError(f"pod {self.namespace}/{self.name}: no container {wanted!r} ({names})")
        return dict(containers[0])

    def _security(self, container: Mapping[str, Any]) -> None:
        pod_sc = self.spec.get("securityContext") or {}
        sc = {**pod_sc, **(container.get("securityContext") or {})}
        image_uid, image_gid = image_user(self.rootfs, str(self.image_config.get("User") or ""))
        uid = int(sc["runAsUser"]) if sc.get("runAsUser") is not None else image_uid
        gid = int(sc["runAsGroup"]) if sc.get("runAsGroup") is not None else image_gid
        if sc.get("runAsNonRoot") and uid == 0:
            raise PodError(
                f"pod {self.namespace}/{self.name}: runAsNonRoot is set but the container "
                "would run as root (the image's user and runAsUser say uid 0)"
            )
        self.user = (uid, gid)
        fs_group = pod_sc.get("fsGroup")
        self.fs_group = int(fs_group) if fs_group is not None else None
        extra = [int(g) for g in pod_sc.get("supplementalGroups") or []]
        if self.fs_group is not None:
            extra.append(int(self.fs_group))
        self.groups = list(dict.fromkeys([gid, *extra]))
        self.read_only_root = bool(sc.get("readOnlyRootFilesystem"))

    # -- tokens and volumes ------------------------------------------------------------------

    def _request_token(self, token: _Token) -> None:
        admin = self.cluster.admin
        self._generation += 1
        ns = f"/api/v1/namespaces/{self.namespace}"
        binding = f"{self.name}-token-{self._generation}"
        secret = admin.create(
            f"{ns}/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": binding,
                    "labels": {"testenv.kubeops.io/pod": self.name},
                    "annotations": {"testenv.kubeops.io/purpose": "binds one token of the pod"},
                },
            },
        )
        spec: dict[str, Any] = {
            "expirationSeconds": token.expiration,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Secret",
                "name": binding,
                "uid": secret["metadata"]["uid"],
            },
        }
        if token.audience:
            spec["audiences"] = [token.audience]
        answer = admin.create(
            f"{ns}/serviceaccounts/{self.service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        token.value = answer["status"]["token"]
        token.binding = binding

    def _token(self, audience: str | None, expiration: int = TOKEN_SECONDS) -> _Token:
        if audience not in self._tokens:
            token = _Token(audience, max(600, expiration))
            self._request_token(token)
            self._tokens[audience] = token
        return self._tokens[audience]

    def _service_account_volume(self) -> _Volume:
        self._token(None)
        ca = self.cluster.pki.ca.cert_pem
        namespace = self.namespace.encode()

        def render() -> dict[str, tuple[bytes, int]]:
            return {
                "token": (self._tokens[None].value.encode(), 0o644),
                "ca.crt": (ca, 0o644),
                "namespace": (namespace, 0o644),
            }

        return self._atomic_volume("kube-api-access", render, has_token=True)

    def _atomic_volume(self, name: str, render: Any, *, has_token: bool = False) -> _Volume:
        volume = _Volume(self.dir / "volumes" / name, render, has_token, self.fs_group)
        self._volumes[f"\0{name}"] = volume
        volume.write()
        return volume

    def _volume(self, spec: Mapping[str, Any]) -> _Volume:
        name = spec["name"]
        if "emptyDir" in spec:
            path = self.dir / "volumes" / name
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o777)
            return _Volume(path)
        sources: list[Mapping[str, Any]]
        if "projected" in spec:
            mode = spec["projected"].get("defaultMode", 0o644)
            sources = spec["projected"].get("sources") or []
        elif "configMap" in spec or "secret" in spec or "downwardAPI" in spec:
            kind = next(k for k in ("configMap", "secret", "downwardAPI") if k in spec)
            mode = spec[kind].get("defaultMode", 0o644)
            sources = [{kind: spec[kind]}]
        else:
            kinds = sorted(k for k in spec if k != "name")
            raise PodError(
                f"pod {self.namespace}/{self.name}: volume {name!r} is of a kind the runner "
                f"does not materialise ({', '.join(kinds)}); use configMap, secret, emptyDir, "
                "projected or downwardAPI"
            )
        for source in sources:
            if "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                self._token(sat.get("audience"), int(sat.get("expirationSeconds", TOKEN_SECONDS)))
        has_token = any("serviceAccountToken" in s for s in sources)
        volume = _Volume(self.dir / "volumes" / name, None, has_token, self.fs_group)
        volume.render = lambda: self._render(name, sources, int(mode))
        volume.write()
        return volume

    def _render(
        self, volume: str, sources: list[Mapping[str, Any]], mode: int
    ) -> dict[str, tuple[bytes, int]]:
        files: dict[str, tuple[bytes, int]] = {}
        for source in sources:
            if "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                token = self._tokens[sat.get("audience")].value.encode()
                files[sat["path"]] = (token, mode)
            elif "configMap" in source or "secret" in source:
                kind = "configMap" if "configMap" in source else "secret"
                files.update(self._object_files(volume, kind, source[kind], mode))
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    value = self._field(item.get("fieldRef") or {}, f"volume {volume!r}")
                    files[item["path"]] = (value.encode(), int(item.get("mode", mode)))
            else:
                raise PodError(
                    f"pod {self.namespace}/{self.name}: volume {volume!r} projects a source "
                    f"the runner does not know ({', '.join(source)})"
                )
        return files

    def _object_files(
        self, volume: str, kind: str, ref: Mapping[str, Any], mode: int
    ) -> dict[str, tuple[bytes, int]]:
        object_name = ref.get("name") or ref.get("secretName") or ""
        data = self._object_data(kind, object_name, bool(ref.get("optional")), f"volume {volume!r}")
        items = ref.get("items")
        if items is None:
            return {key: (value, mode) for key, value in data.items()}
        files = {}
        for item in items:
            if item["key"] not in data:
                if ref.get("optional"):
                    continue
                raise PodError(
                    f"pod {self.namespace}/{self.name}: volume {volume!r}: {kind} "
                    f"{object_name!r} has no key {item['key']!r}"
                )
            files[item["path"]] = (data[item["key"]], int(item.get("mode", mode)))
        return files

    def _object_data(self, kind: str, name: str, optional: bool, where: str) -> dict[str, bytes]:
        plural = "configmaps" if kind == "configMap" else "secrets"
        path = f"/api/v1/namespaces/{self.namespace}/{plural}/{name}"
        found = self.cluster.admin.request("GET", path, ok=(404,))
        if found.get("kind") == "Status":
            if optional:
                return {}
            raise PodError(
                f"pod {self.namespace}/{self.name}: {where}: {kind} {name!r} does not exist "
                f"in namespace {self.namespace}"
            )
        if kind == "secret":
            return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
        data = {k: v.encode() for k, v in (found.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (found.get("binaryData") or {}).items()})
        return data

    def _mount(self, mount: Mapping[str, Any]) -> _Mount:
        volume = self._volumes.get(mount["name"])
        if volume is None:
            raise PodError(
                f"pod {self.namespace}/{self.name}: volumeMount {mount['mountPath']!r} names "
                f"volume {mount['name']!r}, which the pod does not declare"
            )
        source = volume.path
        if sub := mount.get("subPath"):
            if ".." in PurePosixPath(sub).parts or sub.startswith("/"):
                raise PodError(
                    f"pod {self.namespace}/{self.name}: subPath {sub!r} leaves its volume"
                )
            source = volume.path / sub
            if not source.exists():
                source.mkdir(parents=True)
        return _Mount(source, mount["mountPath"], bool(mount.get("readOnly")))

    def _etc_files(self) -> list[_Mount]:
        etc = self.dir / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "hosts").write_text(
            f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{POD_IP}\t{self.name}\n"
        )
        (etc / "hostname").write_text(f"{self.name}\n")
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions ndots:5\n")
        return [_Mount(etc / n, f"/etc/{n}", False) for n in ("hosts", "hostname", "resolv.conf")]

    # -- env and command ---------------------------------------------------------------------

    def _field(self, ref: Mapping[str, Any], where: str) -> str:
        path = ref.get("fieldPath", "")
        values = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.serviceAccountName": self.service_account,
            "spec.nodeName": self.cluster.name,
            "status.podIP": POD_IP,
            "status.hostIP": POD_IP,
        }
        if path in values:
            return values[path]
        match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if match:
            meta = self.template.get("metadata") or {}
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        raise PodError(
            f"pod {self.namespace}/{self.name}: {where}: fieldRef {path!r} is not supported "
            "(metadata.name/namespace/uid/labels/annotations, spec.serviceAccountName, "
            "spec.nodeName, status.podIP/hostIP are)"
        )

    def _env(self, container: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, str]:
        env: dict[str, str] = {}
        for item in self.image_config.get("Env") or []:
            key, _, value = str(item).partition("=")
            env[key] = value
        env.setdefault("PATH", _DEFAULT_PATH)
        env["HOSTNAME"] = self.name
        port = str(self.cluster.port)
        env.update(
            {
                "KUBERNETES_SERVICE_HOST": HOST,
                "KUBERNETES_SERVICE_PORT": port,
                "KUBERNETES_SERVICE_PORT_HTTPS": port,
                "KUBERNETES_PORT": f"tcp://{HOST}:{port}",
            }
        )
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            kind = "configMap" if "configMapRef" in source else "secret"
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            data = self._object_data(kind, ref["name"], bool(ref.get("optional")), "envFrom")
            env.update({prefix + k: v.decode() for k, v in data.items()})
        for item in container.get("env") or []:
            env[item["name"]] = self._env_value(item, env)
        env.update(extra)
        self._path = env["PATH"]
        return {k: _substitute_port(v, self.ports) for k, v in env.items()}

    def _env_value(self, item: Mapping[str, Any], env: Mapping[str, str]) -> str:
        if "valueFrom" not in item:
            return _expand(str(item.get("value", "")), env)
        source = item["valueFrom"]
        where = f"env {item['name']}"
        if "fieldRef" in source:
            return self._field(source["fieldRef"], where)
        for kind, key in (("secret", "secretKeyRef"), ("configMap", "configMapKeyRef")):
            if key in source:
                ref = source[key]
                optional = bool(ref.get("optional"))
                data = self._object_data(kind, ref["name"], optional, where)
                if ref["key"] not in data and not optional:
                    raise PodError(
                        f"pod {self.namespace}/{self.name}: {where}: {kind} {ref['name']!r} "
                        f"has no key {ref['key']!r}"
                    )
                return data.get(ref["key"], b"").decode()
        raise PodError(
            f"pod {self.namespace}/{self.name}: {where}: valueFrom {sorted(source)} is not "
            "supported (fieldRef, secretKeyRef, configMapKeyRef are)"
        )

    def _command(self, container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        command = container.get("command")
        args = container.get("args")
        if command is None:
            command = self.image_config.get("Entrypoint") or []
            if args is None:
                args = self.image_config.get("Cmd") or []
        argv = [_expand(str(a), env) for a in [*(command or []), *(args or [])]]
        if not argv:
            raise PodError(f"pod {self.namespace}/{self.name}: no command (template or image)")
        return [_substitute_port(a, self.ports) for a in argv]

    def _script(self, plan: _Plan, command: list[str], container: Mapping[str, Any]) -> str:
        """The shell run inside the new mount namespace: the root, its mounts, then chroot."""
        rw = self.dir / "rw"
        root = self.dir / "root"
        for path in (rw, root):
            path.mkdir(exist_ok=True)
        for path in (self.rootfs, rw, root):
            if any(c in str(path) for c in ",:"):
                raise PodError(f"pod {self.namespace}/{self.name}: path {path} has ',' or ':'")
        q = shlex.quote
        # The host's tools set the pod up; the command then finds its own in the image.
        lines = [
            f"export PATH={_HOST_PATH}",
            f"mount -t tmpfs -o mode=0755 tmpfs {q(str(rw))}",
            f"mkdir {q(str(rw / 'upper'))} {q(str(rw / 'work'))}",
            f"mount -t overlay overlay -o lowerdir={self.rootfs},upperdir={rw / 'upper'},"
            f"workdir={rw / 'work'} {q(str(root))}",
        ]
        proc, dev = path_inside(self.rootfs, "/proc"), path_inside(self.rootfs, "/dev")
        lines += [
            f"mkdir -p {q(str(root) + proc)} {q(str(root) + dev)}",
            f"mount -t proc -o nosuid,nodev,noexec proc {q(str(root) + proc)}",
            f"mount -t tmpfs -o mode=0755,nosuid tmpfs {q(str(root) + dev)}",
            f"mkdir {q(str(root) + dev + '/shm')}",
            f"mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {q(str(root) + dev + '/shm')}",
        ]
        for device in _DEVICES:
            target = q(f"{root}{dev}/{device}")
            lines += [f": > {target}", f"mount --bind /dev/{device} {target}"]
        for link, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
            lines.append(f"ln -s {to} {q(f'{root}{dev}/{link}')}")
        lines.append(f"ln -s /proc/self/fd/1 {q(f'{root}{dev}/stdout')}")
        lines.append(f"ln -s /proc/self/fd/2 {q(f'{root}{dev}/stderr')}")
        for mount in [*plan.files, *plan.mounts]:
            target = q(str(root) + path_inside(self.rootfs, mount.target))
            if mount.source.is_dir():
                lines.append(f"mkdir -p {target}")
            else:
                lines.append(f'mkdir -p "$(dirname {target})"; [ -e {target} ] || : > {target}')
            lines.append(f"mount --bind {q(str(mount.source))} {target}")
            if mount.read_only:
                lines.append(f"mount -o remount,bind,ro {target}")
        if self.read_only_root:
            lines.append(f"mount -o remount,ro {q(str(root))}")
        lines.append(f"hostname {q(self.name)}")
        argv = list(command)
        workdir = container.get("workingDir") or self.image_config.get("WorkingDir") or "/"
        if workdir != "/":
            argv = ["/usr/bin/env", "-C", workdir, *argv]
        uid, gid = self.user
        groups = ",".join(str(g) for g in self.groups)
        # The shell's own PWD must not reach the container: the env is the pod's only.
        lines.append(f"unset PWD OLDPWD; export PATH={q(self._path)}")
        lines.append(
            f"exec /usr/sbin/chroot --userspec={uid}:{gid} --groups={groups} {q(str(root))} "
            + " ".join(q(a) for a in argv)
        )
        return "\n".join(lines) + "\n"


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: a defined variable is replaced, ``$$`` is ``$``,
    anything else stays as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(replace, value)


def _substitute_port(value: str, ports: Mapping[int, int]) -> str:
    match = _PORT_ARG.match(value)
    if match and int(match.group(2)) in ports:
        return f"{match.group(1)}{ports[int(match.group(2))]}"
    return value


def _host_tool(name: str) -> str:
    found = shutil.which(name, path=_HOST_PATH)
    if found is None:
        raise PodError(f"running a pod needs {name} (util-linux) on this host")
    return found


def _exit_code(code: int | None) -> int | None:
    if code is None:
        return None
    return 128 - code if code < 0 else code
