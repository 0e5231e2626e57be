"""Finds, builds and checks the control-plane binaries testenv runs.

Two sources, in this order:

* ``KUBEOPS_ASSETS=DIR`` -- binaries someone already has, laid out flat as
  controller-runtime's envtest assets are (``DIR/etcd``, ``DIR/kube-apiserver``,
  ``DIR/kubectl``, plus optionally the controller-manager, scheduler and kwok).
* A per-version build cache (``~/.cache/kubeops/controlplane/<key>/``) filled by
  ``go build`` from the Go modules under ``controlplane/``, which pin one release
  each of Kubernetes, etcd and kwok.  The key changes whenever a pin or a
  ``go.sum`` changes, so a changed pin rebuilds and an unchanged one is reused.
  The extra programs some tests run -- Alertmanager, metrics-server, ``opa``
  (the Rego oracle), and the deployment tools ``helm``, ``promtool`` and ``umoci`` --
  are pinned there too and cached beside it (``controlplane/<name>-<key>/``); they build in
  parallel with the control plane, and only when asked for.  So does Kafka, the one
  extra that is Java: its jars come from Maven Central (:mod:`.assets_kafka`), and
  ``path("kafka")`` is their directory.

Every binary is run with ``--version`` once per process before it is used, so
a truncated or corrupt file is caught here with a clear message rather than as
a mysterious start-up failure later.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kubeops.testenv.assets_kafka import KAFKA, ensure_kafka, stop_fetches
from kubeops.testenv.errors import AssetsError
from kubeops.testenv.gotools import (
    GoProgram,
    cached_program,
    go_command,
    go_version,
    locked,
    required_version,
    run_go,
    stop_builds,
)

Progress = Callable[[str], None]

API_BINARIES: tuple[str, ...] = ("etcd", "kube-apiserver")
FULL_BINARIES: tuple[str, ...] = (
    *API_BINARIES,
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)
ALL_BINARIES: tuple[str, ...] = (*FULL_BINARIES, "kubectl")
# Servers beside the control plane that only some tests run.
EXTRA_BINARIES: tuple[str, ...] = (
    "alertmanager",
    "metrics-server",
    "opa",
    "helm",
    "promtool",
    "umoci",
)
EVERY_BINARY: tuple[str, ...] = (*ALL_BINARIES, *EXTRA_BINARIES)
# Everything ``kubeops testenv assets`` prepares: the binaries and Kafka's jars.
EVERY_ASSET: tuple[str, ...] = (*EVERY_BINARY, KAFKA)
KWOK_STAGES = "kwok-stages.yaml"

# Which Go module builds which binary, and from which package.
_BUILDS: dict[str, dict[str, str]] = {
    "etcd": {"etcd": "go.etcd.io/etcd/server/v3"},
    "kwok": {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
    "kubernetes": {
        "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
        "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    },
}
_PIN_MODULES = {
    "kubernetes": "k8s.io/kubernetes",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kwok": "sigs.k8s.io/kwok",
}
# Bump when the way binaries are built changes, so old caches are not reused.
_BUILD_RECIPE = "1"
# Programs whose version is a subcommand rather than ``--version``.
_VERSION_ARGS: dict[str, list[str]] = {
    "kubectl": ["version", "--client"],
    "opa": ["version"],
    "helm": ["version"],
}


@dataclass(frozen=True)
class _Extra:
    """An extra server: the module its ``controlplane/<name>/go.mod`` pins, its main
    package, and the variable its releases stamp their version into."""

    module: str
    package: str
    version_variable: str
    bare_version: bool = False  # "0.31.1" rather than "v0.31.1"
    tags: str = ""

    def program(self, name: str, source: Path) -> GoProgram:
        version = required_version(source / name / "go.mod", self.module)
        stamp = version.removeprefix("v") if self.bare_version else version
        return GoProgram(
            name,
            source / name,
            self.package,
            f"-s -w -X {self.version_variable}={stamp}",
            self.tags,
        )


_EXTRAS: dict[str, _Extra] = {
    "alertmanager": _Extra(
        "github.com/prometheus/alertmanager",
        "github.com/prometheus/alertmanager/cmd/alertmanager",
        "github.com/prometheus/common/version.Version",
        bare_version=True,
    ),
    "metrics-server": _Extra(
        "sigs.k8s.io/metrics-server",
        "sigs.k8s.io/metrics-server/cmd/metrics-server",
        "k8s.io/client-go/pkg/version.gitVersion",
    ),
    # The Rego oracle: kubeops.policy's in-process evaluation is tested against it.
    "opa": _Extra(
        "github.com/open-policy-agent/opa",
        "github.com/open-policy-agent/opa",
        "github.com/open-policy-agent/opa/v1/version.Version",
        bare_version=True,
    ),
    # The chart's linter and renderer (deploy/chart/kubeops), as users run it.
    "helm": _Extra(
        "helm.sh/helm/v4",
        "helm.sh/helm/v4/cmd/helm",
        "helm.sh/helm/v4/internal/version.version",
    ),
    # Checks and unit-tests the PrometheusRule alerts shipped in deploy/.  Rules need no
    # service discovery: without its plugins (every cloud's SDK) the build is a fraction.
    "promtool": _Extra(
        "github.com/prometheus/prometheus",
        "github.com/prometheus/prometheus/cmd/promtool",
        "github.com/prometheus/common/version.Version",
        bare_version=True,
        tags="remove_all_sd",
    ),
    # Packs the image's root filesystem as an OCI image (``make image``) and unpacks it.
    "umoci": _Extra(
        "github.com/opencontainers/umoci",
        "github.com/opencontainers/umoci/cmd/umoci",
        "github.com/opencontainers/umoci.version",
        bare_version=True,
    ),
}


@dataclass(frozen=True)
class Pins:
    """The pinned releases, read from the ``controlplane/*/go.mod`` files."""

    kubernetes: str
    etcd: str
    kwok: str

    def describe(self) -> str:
        """The pinned versions in words, for progress lines and errors."""
        return f"Kubernetes {self.kubernetes}, etcd {self.etcd}, kwok {self.kwok}"


@dataclass(frozen=True)
class Assets:
    """A directory of control-plane binaries and where it came from."""

    directory: Path
    source: str  # "KUBEOPS_ASSETS" or "build cache"
    pins: Pins | None
    # Built extra programs (alertmanager, metrics-server, opa) cached outside ``directory``.
    extras: Mapping[str, Path] = field(default_factory=dict)

    def path(self, binary: str) -> Path:
        """Where ``binary`` lives in the cache (built or not)."""
        return self.extras.get(binary) or self.directory / binary

    def has(self, binary: str) -> bool:
        """Whether ``binary`` has been built into the cache."""
        return self.path(binary).is_file()


def controlplane_dir() -> Path:
    """The ``controlplane/`` Go modules: ``KUBEOPS_CONTROLPLANE_DIR``, the copy shipped
    in the wheel, or the one in a source checkout."""
    override = os.environ.get("KUBEOPS_CONTROLPLANE_DIR")
    if override:
        return Path(override)
    packaged = Path(__file__).with_name("controlplane")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "controlplane"
    if checkout.is_dir():
        return checkout
    raise AssetsError(
        "cannot find kubeops' controlplane/ Go modules next to the package; "
        "reinstall kubeops or set KUBEOPS_ASSETS to a directory of binaries"
    )


def read_pins(directory: Path | None = None) -> Pins:
    """Read the pinned versions from the modules' ``go.mod`` files."""
    base = directory or controlplane_dir()
    versions = {
        name: required_version(base / name / "go.mod", module)
        for name, module in _PIN_MODULES.items()
    }
    return Pins(**versions)


def cache_root() -> Path:
    """Where builds are cached: ``KUBEOPS_CACHE_DIR``, else the XDG cache directory."""
    explicit = os.environ.get("KUBEOPS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kubeops"


def cache_key(directory: Path, pins: Pins) -> str:
    """A cache key that changes with any pin, any go.mod/go.sum or the build recipe."""
    digest = hashlib.sha256(_BUILD_RECIPE.encode())
    for name in sorted(_BUILDS):
        for file in ("go.mod", "go.sum"):
            path = directory / name / file
            if path.exists():
                digest.update(path.read_bytes())
    for path in sorted((directory / "kwok" / "stages").glob("*.go")):
        digest.update(path.read_bytes())
    return f"k8s-{pins.kubernetes}_etcd-{pins.etcd}_kwok-{pins.kwok}_{digest.hexdigest()[:10]}"


def _quiet(_: str) -> None:
    pass


def ensure_assets(
    needed: Iterable[str] = EVERY_ASSET, progress: Progress = _quiet, *, warm_kafka: bool = False
) -> Assets:
    """Return checked binaries for ``needed``, building them into the cache if necessary.

    The control plane and each extra server build at the same time, so asking for
    everything on a cold cache takes about as long as the slowest of them.  ``"kafka"``
    fetches Kafka's jars meanwhile; the first failure of either ends the other.
    ``warm_kafka`` also runs a broker once to make its class archive (see
    :func:`~kubeops.testenv.kafka.prepare_class_archive`), as ``kubeops testenv assets`` does."""
    needed = tuple(needed)
    if KAFKA not in needed:
        return _ensure_binaries(needed, progress)
    binaries = tuple(b for b in needed if b != KAFKA)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="assets") as pool:
        jars = pool.submit(_kafka, progress, warm_kafka)
        rest = pool.submit(_ensure_binaries, binaries, progress) if binaries else None
        try:
            running: list[Future[Any]] = [f for f in (jars, rest) if f is not None]
            wait(running, return_when=FIRST_EXCEPTION)
            libs = jars.result()
            base = (
                rest.result()
                if rest is not None
                else Assets(cache_root() / "controlplane", "build cache", None)
            )
        except BaseException:
            stop_fetches()
            stop_builds()
            raise
    return replace(base, extras={**base.extras, KAFKA: libs})


def _kafka(progress: Progress, warm: bool) -> Path:
    """Kafka's jars, and (``warm``) the class archive that makes its brokers start fast."""
    libs = ensure_kafka(controlplane_dir(), cache_root() / "controlplane", progress)
    if warm:
        from kubeops.testenv.kafka import prepare_class_archive  # kafka imports this module

        prepare_class_archive(libs, progress)
    return libs


def _ensure_binaries(needed: tuple[str, ...], progress: Progress) -> Assets:
    explicit = os.environ.get("KUBEOPS_ASSETS")
    if explicit:
        assets = Assets(Path(explicit).expanduser(), "KUBEOPS_ASSETS", None)
        # kwok runs with the stages file a build writes next to it.
        files = (*needed, KWOK_STAGES) if "kwok" in needed else needed
        missing = [b for b in files if not assets.has(b)]
        if missing:
            raise AssetsError(
                f"KUBEOPS_ASSETS={explicit} lacks {', '.join(missing)}; add them there, or unset "
                "KUBEOPS_ASSETS to let kubeops build every binary from its pinned sources with Go"
            )
        broken = _verify(assets, needed)
        if broken:
            raise AssetsError(
                "these binaries under KUBEOPS_ASSETS do not run: " + _describe(broken)
            )
        return assets
    source = controlplane_dir()
    core = tuple(b for b in needed if b not in _EXTRAS)
    extras = [b for b in needed if b in _EXTRAS]
    if not extras:
        return _cached_build(source, core, progress)
    with ThreadPoolExecutor(max_workers=1 + len(extras), thread_name_prefix="go-build") as pool:
        built = {name: pool.submit(_cached_extra, source, name, progress) for name in extras}
        control: Future[Assets] | None = (
            pool.submit(_cached_build, source, core, progress) if core else None
        )
        try:
            # The extras first, then the control plane; the first failure is raised.
            paths = {name: future.result() for name, future in built.items()}
            if control is not None:
                base = control.result()
            else:
                pins = read_pins(source)
                base = Assets(cache_root() / "controlplane" / cache_key(source, pins), "", pins)
        except BaseException:
            stop_builds()  # Ctrl-C or a failure: the other builds end now, not in minutes
            raise
    assets = Assets(base.directory, "build cache", base.pins, paths)
    broken = _verify(assets, extras)
    if broken:
        for name in broken:
            _forget(paths[name].parent)
        raise AssetsError(
            "cached extra servers do not run (removed; the next run rebuilds them): "
            + _describe(broken)
        )
    return assets


def _cached_extra(source: Path, name: str, progress: Progress) -> Path:
    missing = (
        f"kubeops.testenv needs {name}, built from controlplane/{name}/go.mod, and found "
        "neither Go nor a prebuilt one. Either install Go so kubeops builds it into "
        f"{cache_root()}/controlplane, or put a {name} binary in a directory named by "
        "KUBEOPS_ASSETS."
    )
    program = _EXTRAS[name].program(name, source)
    return cached_program(program, cache_root() / "controlplane", progress, missing_go=missing)


def _cached_build(source: Path, needed: tuple[str, ...], progress: Progress) -> Assets:
    pins = read_pins(source)
    root = cache_root() / "controlplane"
    final = root / cache_key(source, pins)
    assets = Assets(final, "build cache", pins)
    if _complete(final) and all(assets.has(b) for b in needed):
        broken = _verify(assets, needed)
        if not broken:
            return assets
        progress(
            "cached control-plane binaries are broken ("
            + _describe(broken)
            + f"); rebuilding {final}"
        )
        _forget(final)
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / (final.name + ".lock")):
        if not _complete(final):  # another process may have built it while we waited
            _build(source, pins, final, progress)
    broken = _verify(assets, needed)
    if broken:
        raise AssetsError("freshly built control-plane binaries do not run: " + _describe(broken))
    return assets


def _describe(broken: dict[str, str]) -> str:
    """``kubectl: exit 1; etcd: not executable``: which binaries fail, and why."""
    return "; ".join(f"{binary}: {why}" for binary, why in broken.items())


def _complete(directory: Path) -> bool:
    return (directory / "manifest.json").is_file()


def _forget(directory: Path) -> None:
    _verified.clear()
    shutil.rmtree(directory, ignore_errors=True)


def _go() -> str:
    return go_command(
        "kubeops.testenv needs the control-plane binaries (etcd, kube-apiserver, "
        "kube-controller-manager, kube-scheduler, kwok, kubectl) and found neither Go nor "
        "prebuilt ones. Either install Go (the version controlplane/*/go.mod names, or newer) "
        f"so kubeops builds them from their pinned sources into {cache_root()}/controlplane, "
        "or set KUBEOPS_ASSETS to a directory that already holds them, laid out like "
        "controller-runtime's envtest assets (DIR/etcd, DIR/kube-apiserver, ...)."
    )


def _build(source: Path, pins: Pins, final: Path, progress: Progress) -> None:
    go = _go()
    staging = Path(tempfile.mkdtemp(prefix=final.name + ".building-", dir=final.parent))
    started = time.monotonic()
    progress(
        f"building the control plane ({pins.describe()}) with {go_version(go)}; "
        f"first run only, cached in {final}"
    )
    try:
        # The small stages program goes first, so a broken toolchain fails in seconds.
        stages = run_go(
            go, ["run", "./stages"], source / "kwok", "kwok's default stages", progress, started
        )
        (staging / KWOK_STAGES).write_text(stages)
        for module, packages in _BUILDS.items():
            _go_build(go, source / module, packages, staging, pins, progress, started)
        manifest = {
            "pins": pins.__dict__,
            "go": go_version(go),
            "built_seconds": round(time.monotonic() - started, 1),
            "binaries": sorted(b for p in _BUILDS.values() for b in p),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _forget(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"control plane built in {time.monotonic() - started:.0f}s")


def _ldflags(module: str, pins: Pins) -> str:
    flags = "-s -w"
    if module == "kubernetes":
        version = pins.kubernetes
        major, minor = version.lstrip("v").split(".")[:2]
        pkg = "k8s.io/component-base/version"
        flags += (
            f" -X {pkg}.gitVersion={version} -X {pkg}.gitMajor={major}"
            f" -X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean"
            f" -X {pkg}.buildDate=1970-01-01T00:00:00Z"
        )
    return flags


def _go_build(
    go: str,
    module_dir: Path,
    packages: dict[str, str],
    out: Path,
    pins: Pins,
    progress: Progress,
    started: float,
) -> None:
    # A lone package is named explicitly: go would call etcd's main package "server".
    target = str(out / next(iter(packages))) if len(packages) == 1 else f"{out}/"
    args = ["build", "-trimpath", "-ldflags", _ldflags(module_dir.name, pins), "-o", target]
    run_go(go, [*args, *packages.values()], module_dir, ", ".join(packages), progress, started)


_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()


def _verify(assets: Assets, binaries: Iterable[str]) -> dict[str, str]:
    """Run ``--version`` on each binary not yet checked; return the broken ones and why."""
    todo: list[tuple[str, Path, tuple[str, int, int]]] = []
    for binary in binaries:
        path = assets.path(binary)
        try:
            stat = path.stat()
        except OSError as err:
            return {binary: str(err)}
        stamp = (str(path), stat.st_size, stat.st_mtime_ns)
        with _verified_lock:
            if stamp not in _verified:
                todo.append((binary, path, stamp))
    broken: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for (binary, _, stamp), problem in zip(
            todo, pool.map(lambda item: _version_problem(item[1]), todo), strict=True
        ):
            if problem is None:
                with _verified_lock:
                    _verified.add(stamp)
            else:
                broken[binary] = problem
    return broken


def _version_problem(path: Path) -> str | None:
    args = [str(path), *_VERSION_ARGS.get(path.name, ["--version"])]
    try:
        out = subprocess.run(args, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{path} --version failed: {err}"
    if out.returncode != 0:
        text = (out.stderr or out.stdout).decode(errors="replace").strip().splitlines()[-1:]
        return f"{path} --version exited {out.returncode}" + (f": {text[0]}" if text else "")
    return None
