"""Builds kubeops' OCI image without a container engine, and caches it.

The one builder behind ``make image`` and the in-cluster tests (which run the
daemons from the image's own root filesystem, so what runs is what ships).
Three layers, each cached by what it is made of, so a code change rebuilds only
the last:

1. **Debian**: a bookworm root filesystem from ``mmdebstrap`` (variant ``essential``
   plus :data:`PACKAGES`, merged ``/usr``), without dpkg, its database, debconf,
   perl or documentation (:data:`REMOVED`); keyed by the package list alone.
2. **dependencies**: a venv at ``/opt/kubeops`` made by the image's own ``python3``,
   holding kubeops' dependencies as wheels built outside, pinned to the versions
   installed in the running environment (the image runs what the tests ran), their
   libraries' symbols stripped; the ``kubeops`` user (65532:65532).  pip runs from a
   zip outside the venv, so no pip stays inside.
3. **kubeops**: its wheel installed into that venv, and ``/usr/local/bin/kubeops``.

``umoci`` packs them into an OCI image layout tagged with kubeops' version, every
timestamp clamped to ``SOURCE_DATE_EPOCH`` (else the last commit's time).  Images live
in ``~/.cache/kubeops/image-<key>/`` (key: ``src/``, ``pyproject.toml``, ``README.md``,
``controlplane/``, the pins and the Debian package list).  A file lock makes
concurrent first calls build once; a build appears only by renaming its finished
directory; builds unused for an hour are pruned (:func:`prune_cache`).  Building needs
root (mmdebstrap's root mode, ``chroot``).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeops.testenv.assets import cache_root, ensure_assets
from kubeops.testenv.errors import AssetsError
from kubeops.testenv.gotools import locked, wait_reporting

Progress = Callable[[str], None]

SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
# libstdc++6: the C++ libraries in wheels (greenlet, cel-expr-python...) link against it.
PACKAGES = ("python3", "ca-certificates", "libstdc++6")
USER = "kubeops"
UID = 65532
VENV = "/opt/kubeops"
ENTRYPOINT = "/usr/local/bin/kubeops"
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Bump when a step below changes what it produces: every cached layer then rebuilds.
_RECIPE = "kubeops-image-3"
_BASE_RECIPE = "debian-2"
# Never read at runtime, so not shipped: documentation and translations.
_DPKG_EXCLUDES = ("doc/*", "man/*", "info/*", "locale/*", "lintian/*", "linda/*")
# Removed from the Debian root filesystem once mmdebstrap is done: the package
# manager, its database, logs and caches, and perl (only maintainer scripts use it).
REMOVED = (
    "var/lib/dpkg",
    "var/lib/apt",
    "var/cache/apt",
    "var/cache/debconf",
    "var/cache/ldconfig",
    "var/log/*",
    "etc/apt",
    "etc/dpkg",
    "usr/bin/dpkg*",
    "usr/sbin/dpkg*",
    "usr/share/dpkg",
    "usr/lib/dpkg",
    "usr/share/debconf",
    "usr/share/perl5/Debconf",
    "usr/bin/debconf*",
    "usr/bin/perl*",
    "usr/lib/x86_64-linux-gnu/perl-base",
)
# dpkg's database is gone, so the image lists its Debian packages here for scanners.
PACKAGE_LIST = "usr/share/doc/kubeops-debian-packages.txt"
_DEPENDENCY_LAYER = ("etc/group", "etc/passwd", "home", "opt", PACKAGE_LIST)
# Cached builds older than this (by last use) may be deleted.
_UNUSED_SECONDS = 3600.0
_BASE_TAG = "base"
# Run by the image's python: every shared library the wheels hold must load there
# (a missing Debian library would otherwise surface only when a daemon imports it).
_LOAD_LIBRARIES = """
import ctypes, sys, sysconfig
from pathlib import Path
site = Path(sysconfig.get_paths()["purelib"])
for path in sorted(site.rglob("*.so*")):
    try:
        ctypes.CDLL(str(path))
    except OSError as exc:
        sys.exit(f"{path.relative_to(site)}: {exc}")
"""


class ImageError(AssetsError):
    """kubeops' image could not be built or unpacked (the message names the step)."""


@dataclass(frozen=True)
class ImageLayout:
    """A built OCI image layout: ``directory/oci`` holds it under :attr:`tag`."""

    directory: Path
    tag: str

    @property
    def layout(self) -> Path:
        """The OCI image layout directory (``index.json``, ``blobs/``)."""
        return self.directory / "oci"

    @property
    def reference(self) -> str:
        """``<layout>:<tag>``, as umoci and skopeo's ``oci:`` transport name it."""
        return f"{self.layout}:{self.tag}"

    def manifest(self) -> dict[str, Any]:
        """The image manifest the tag points at."""
        index = json.loads((self.layout / "index.json").read_text())
        for entry in index.get("manifests", []):
            if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == self.tag:
                return _blob(self.layout, entry["digest"])
        raise ImageError(f"image {self.layout}: no manifest tagged {self.tag!r} in index.json")

    def config(self) -> dict[str, Any]:
        """The OCI image configuration (``config.User``, ``Entrypoint``, ``Env``, labels...)."""
        return _blob(self.layout, self.manifest()["config"]["digest"])

    def size(self) -> int:
        """Bytes a registry stores and a node pulls: the config and the compressed layers."""
        manifest = self.manifest()
        return int(manifest["config"]["size"]) + sum(int(x["size"]) for x in manifest["layers"])

    def rootfs(self) -> Path:
        """The unpacked root filesystem, unpacked once and cached; use it read-only."""

        def unpack(staging: Path) -> None:
            target = staging / "rootfs"
            args = ["raw", "unpack", "--image", self.reference, str(target)]
            run_step([str(_umoci()), *args], "unpacking the image (umoci raw unpack)", _quiet)

        return _cached(self.directory / "unpacked", "rootfs/etc/passwd", unpack) / "rootfs"


def _quiet(_: str) -> None:
    pass


def ensure_image(progress: Progress = _quiet) -> ImageLayout:
    """kubeops' image for this checkout, from the cache or built into it first."""
    checkout = source_checkout()
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    pins = dependency_pins()
    image = ImageLayout(cache_root() / f"image-{image_key(checkout, pins)}", project["version"])

    def build(staging: Path) -> None:
        _build(checkout, project, pins, staging, progress)

    _cached(image.directory, "image.json", build)
    os.utime(image.directory)  # "recently used", which pruning keeps
    prune_cache()
    return image


def source_checkout() -> Path:
    """The kubeops source checkout this package runs from (the image is built from it)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "kubeops").is_dir():
        raise ImageError(
            "image: building needs kubeops' source checkout (pyproject.toml, src/), "
            f"not an installed copy ({Path(__file__).parent})"
        )
    return root


def dependency_pins() -> str:
    """``name==version`` lines for everything installed here but kubeops: the image's pins."""
    pins: dict[str, str] = {}
    for dist in importlib.metadata.distributions():  # in sys.path order: the one imported wins
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
        if name and name != "kubeops":
            pins.setdefault(name, f"{name}=={dist.version}\n")
    return "".join(pins[name] for name in sorted(pins))


def image_key(checkout: Path, pins: str) -> str:
    """Changes with any file of the wheel, the pins, the Debian packages or the recipe."""
    digest = hashlib.sha256(f"{_RECIPE}\n{_dependencies_key(checkout, pins)}".encode())
    files = [checkout / "pyproject.toml", checkout / "README.md"]
    for tree in (checkout / "src" / "kubeops", checkout / "controlplane"):
        files += [p for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        if path.is_file():
            digest.update(f"{path.relative_to(checkout)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _base_key() -> str:
    spec = [_BASE_RECIPE, *MIRRORS, *PACKAGES, *_DPKG_EXCLUDES, *REMOVED]
    return f"{SUITE}-" + hashlib.sha256("\n".join(spec).encode()).hexdigest()[:12]


def _dependencies_key(checkout: Path, pins: str) -> str:
    stripped = shutil.which("strip") is not None
    spec = [_RECIPE, _base_key(), *_requirements(checkout), pins, f"stripped={stripped}"]
    return hashlib.sha256("\n".join(spec).encode()).hexdigest()[:16]


def _requirements(checkout: Path) -> list[str]:
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    return [str(x) for x in project.get("dependencies", [])]


def source_date_epoch(checkout: Path) -> int:
    """``SOURCE_DATE_EPOCH``, else the last commit's time, else 0: every timestamp's ceiling."""
    explicit = os.environ.get("SOURCE_DATE_EPOCH")
    if explicit and explicit.isdigit():
        return int(explicit)
    out = _git(checkout, "log", "-1", "--format=%ct")
    return int(out) if out.isdigit() else 0


def source_url(checkout: Path) -> str | None:
    """Where the image's source is (``[project.urls]`` Source, else git's ``origin``), if known."""
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    urls = {k.lower(): v for k, v in project.get("urls", {}).items()}
    for label in ("source", "repository", "homepage"):
        if isinstance(urls.get(label), str):
            return str(urls[label])
    return _git(checkout, "remote", "get-url", "origin") or None


def _git(checkout: Path, *args: str) -> str:
    cmd = ["git", "-C", str(checkout), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def _cached(final: Path, marker: str, build: Callable[[Path], None]) -> Path:
    """``final``, made by ``build(staging)`` and renamed into place once, under a file lock."""
    if (final / marker).exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final.parent / f"{final.name}.lock"):
        if not (final / marker).exists():  # another process may have built it meanwhile
            staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
            staging.chmod(0o755)
            try:
                build(staging)
                shutil.rmtree(final, ignore_errors=True)  # a leftover without its marker
                staging.rename(final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return final


def prune_cache() -> None:
    """Delete cached builds unused for an hour (an image with its root filesystem is
    ~400 MB), keeping the most recently used few and any whose lock a build holds."""
    kinds = (
        (r"image-[0-9a-f]{16}", 3),
        (r"image-deps-[0-9a-f]{16}", 2),
        (r"debian-[a-z]+-[0-9a-f]{12}", 1),
    )
    for pattern, keep in kinds:
        found = [p for p in cache_root().iterdir() if re.fullmatch(pattern, p.name)]
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[keep:]:
            if time.time() - old.stat().st_mtime < _UNUSED_SECONDS:
                continue
            with (old.parent / f"{old.name}.lock").open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                shutil.rmtree(old, ignore_errors=True)
    # What a killed build left behind (a live one renames or removes its own within minutes).
    mine = ("debian-*.building-*", "image-*.building-*", "image-*/*.building-*")
    for leftover in [path for pattern in mine for path in cache_root().glob(pattern)]:
        if time.time() - leftover.stat().st_mtime > _UNUSED_SECONDS:
            shutil.rmtree(leftover, ignore_errors=True)


def _build(
    checkout: Path, project: dict[str, Any], pins: str, staging: Path, progress: Progress
) -> None:
    if os.geteuid() != 0:
        raise ImageError("image: building needs root (mmdebstrap's root mode and chroot)")
    started = time.monotonic()
    version, epoch = project["version"], source_date_epoch(checkout)
    progress(f"building kubeops' image {version}, cached in {staging.parent}")
    umoci = _umoci(progress)
    base = _cached(
        cache_root() / f"debian-{_base_key()}",
        "rootfs.tar",
        lambda out: _build_base(out, epoch, progress),
    )
    deps = _cached(
        cache_root() / f"image-deps-{_dependencies_key(checkout, pins)}",
        "layer.tar",
        lambda out: _build_dependencies(
            out, base, _requirements(checkout), pins, epoch, umoci, progress
        ),
    )
    os.utime(base)  # "recently used", which pruning keeps
    os.utime(deps)
    work = staging / "work"
    wheel = _build_wheel(checkout, work, progress)
    root = _extract(work / "root", [base / "rootfs.tar", deps / "layer.tar"], progress)
    installed = _pip_install(root, [wheel], epoch, progress)
    (root / ENTRYPOINT.lstrip("/")).symlink_to(f"{VENV}/bin/kubeops")
    _tar(root, [*installed, ENTRYPOINT.lstrip("/")], work / "kubeops.tar", epoch, progress)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    image = ImageLayout(staging, version)
    # The Debian and dependency layers come packed: their blobs are linked, not recompressed.
    shutil.copytree(deps / "oci", image.layout, copy_function=_link_blobs)
    for args in (["tag", "--image", f"{image.layout}:{_BASE_TAG}", version],
                 ["rm", "--image", f"{image.layout}:{_BASE_TAG}"]):  # fmt: skip
        run_step([str(umoci), *args], f"tagging the image (umoci {args[0]})", _quiet)
    settings = _settings(version, created, source_url(checkout))
    _pack(umoci, image.reference, created, [(work / "kubeops.tar", f"kubeops {version}")], settings)
    shutil.rmtree(work)
    run_step(
        [str(umoci), "stat", "--image", image.reference], "checking the image (umoci stat)", _quiet
    )
    seconds = time.monotonic() - started
    meta = {"version": version, "size": image.size(), "epoch": epoch, "seconds": round(seconds)}
    (staging / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
    progress(f"built kubeops' image {version} in {seconds:.0f}s ({image.size() / 1e6:.1f} MB)")


def _link_blobs(source: str, target: str) -> None:
    """Blobs never change (their name is their digest): link them; copy what umoci rewrites."""
    if f"{os.sep}blobs{os.sep}" in source:
        os.link(source, target)
    else:
        shutil.copy2(source, target)


def _umoci(progress: Progress = _quiet) -> Path:
    return ensure_assets(("umoci",), progress).path("umoci")


def _build_base(out: Path, epoch: int, progress: Progress) -> None:
    """Layer 1: the Debian root filesystem as ``rootfs.tar``, and its package list."""
    if shutil.which("mmdebstrap") is None:
        raise ImageError(
            "image: the Debian root filesystem needs mmdebstrap, which is not on PATH "
            "(apt-get install mmdebstrap, or `make image`)"
        )
    started = time.monotonic()
    progress(f"mmdebstrap: Debian {SUITE} + {', '.join(PACKAGES)} (once per package list)")
    root = out / "root"
    # merged /usr by symlinks: bookworm's usrmerge package would pull in perl.
    args = ["mmdebstrap", "--mode=root", "--variant=essential", "--quiet", "--format=directory"]
    args += [f"--include={','.join(PACKAGES)}", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"]
    args += [f"--dpkgopt=path-exclude=/usr/share/{pattern}" for pattern in _DPKG_EXCLUDES]
    args += ["--dpkgopt=path-include=/usr/share/doc/*/copyright", SUITE, str(root), *MIRRORS]
    env = {"SOURCE_DATE_EPOCH": str(epoch)}
    run_step(args, "building the Debian root filesystem (mmdebstrap)", progress, env=env)
    query = ["chroot", str(root), "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"]
    listing = subprocess.run(query, capture_output=True, text=True, check=False).stdout
    (out / "packages.txt").write_text(listing)
    for pattern in REMOVED:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    _tar(root, sorted(os.listdir(root)), out / "rootfs.tar", epoch, progress)
    shutil.rmtree(root)
    progress(f"built the Debian root filesystem in {time.monotonic() - started:.0f}s")


def _build_dependencies(
    out: Path,
    base: Path,
    requirements: Sequence[str],
    pins: str,
    epoch: int,
    umoci: Path,
    progress: Progress,
) -> None:
    """Layer 2: the venv with kubeops' dependencies, and the ``kubeops`` user; packed with
    layer 1 into ``oci/`` (tag ``base``), which each image starts from."""
    started = time.monotonic()
    wheels = out / "wheels"
    (out / "pins.txt").write_text(pins)
    progress(f"fetching {len(requirements)} dependencies' wheels (pip wheel, pinned)")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "-c", str(out / "pins.txt")]
    run_step([*pip, "-w", str(wheels), *requirements], "fetching the wheels (pip wheel)", progress)
    root = _extract(out / "root", [base / "rootfs.tar"], progress)
    run_step(
        ["chroot", str(root), "python3", "-m", "venv", "--without-pip", VENV],
        "making the venv (python3 -m venv)",
        progress,
        env=_chroot_env(epoch),
        clear=True,
    )
    _pip_install(root, sorted(wheels.glob("*.whl")), epoch, progress)
    _strip_binaries(root / VENV.lstrip("/"), progress)
    run_step(
        ["chroot", str(root), f"{VENV}/bin/python", "-c", _LOAD_LIBRARIES],
        "loading the wheels' libraries in the image (a shared library is missing)",
        progress,
        env=_chroot_env(epoch),
        clear=True,
    )
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write(f"{USER}:x:{UID}:{UID}:kubeops:/home/{USER}:/usr/sbin/nologin\n")
    with (root / "etc/group").open("a") as group:
        group.write(f"{USER}:x:{UID}:\n")
    home = root / "home" / USER
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, UID, UID)
    home.chmod(0o750)
    shutil.copy(base / "packages.txt", root / PACKAGE_LIST)
    _tar(root, list(_DEPENDENCY_LAYER), out / "layer.tar", epoch, progress)
    shutil.rmtree(root)
    shutil.rmtree(wheels)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    layers = [
        (base / "rootfs.tar", f"mmdebstrap {SUITE} {' '.join(PACKAGES)}"),
        (out / "layer.tar", "kubeops' dependencies in a venv"),
    ]
    _pack(umoci, f"{out / 'oci'}:{_BASE_TAG}", created, layers, [])
    progress(f"built the dependencies' layer in {time.monotonic() - started:.0f}s")


def _build_wheel(checkout: Path, work: Path, progress: Progress) -> Path:
    progress("building kubeops' wheel (pip wheel --no-deps)")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    run_step(
        [*pip, "-w", str(work), str(checkout)], "building kubeops' wheel (pip wheel)", progress
    )
    return next(work.glob("kubeops-*.whl"))


def _extract(root: Path, layers: list[Path], progress: Progress) -> Path:
    root.mkdir(parents=True)
    for layer in layers:
        args = ["tar", "-xf", str(layer), "-C", str(root), "--numeric-owner", "--xattrs"]
        run_step(args, f"extracting {layer.name}", progress)
    return root


def _chroot_env(epoch: int) -> dict[str, str]:
    # SOURCE_DATE_EPOCH also makes pip write hash-checked .pyc files: reproducible.
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "SOURCE_DATE_EPOCH": str(epoch),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def _pip_install(root: Path, wheels: list[Path], epoch: int, progress: Progress) -> list[str]:
    """Install ``wheels`` into the image's venv with a pip kept outside it; what they added.

    Returns the installed top-level paths (relative to ``root``), read from the wheels'
    ``RECORD`` files: the files a layer of just these wheels must hold."""
    inbox = root / "tmp" / "kubeops-build"
    inbox.mkdir(parents=True)
    for wheel in wheels:
        shutil.copy(wheel, inbox / wheel.name)
    _zip_pip(inbox / "pip.zip")
    progress(f"installing {len(wheels)} wheels into {VENV}")
    pip = ["chroot", str(root), f"{VENV}/bin/python", "/tmp/kubeops-build/pip.zip/pip", "install"]
    pip += ["--quiet", "--no-index", "--no-deps", "--root-user-action=ignore"]
    pip += [f"/tmp/kubeops-build/{w.name}" for w in wheels]
    run_step(
        pip, "installing the wheels (pip install)", progress, env=_chroot_env(epoch), clear=True
    )
    shutil.rmtree(inbox)
    site = next((root / VENV.lstrip("/") / "lib").glob("python3*/site-packages"))
    installed: set[str] = set()
    for wheel in wheels:
        name = wheel.name.split("-")[0]
        for record in site.glob(f"{name}-*.dist-info/RECORD"):
            for row in csv.reader(record.read_text().splitlines()):
                path = Path(os.path.normpath(site / row[0]))
                inside = path.relative_to(site).parts[0] if path.is_relative_to(site) else None
                installed.add(str((site / inside if inside else path).relative_to(root)))
    return sorted(installed)


def _strip_binaries(venv: Path, progress: Progress) -> None:
    """Drop the wheels' libraries' symbols (a third of their size), as Debian's own are."""
    strip = shutil.which("strip")
    libraries = sorted(str(p) for p in venv.rglob("*.so*") if p.is_file() and not p.is_symlink())
    if strip is None:
        progress("strip (binutils) is not on PATH: the wheels' libraries keep their symbols")
    elif libraries:
        run_step(
            [strip, "--strip-unneeded", *libraries], "stripping the wheels' libraries", progress
        )


def _zip_pip(target: Path) -> None:
    """The running environment's pip as a zip, which ``python pip.zip/pip`` runs."""
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        raise ImageError("image: installing the wheels needs pip in the running environment")
    package = Path(spec.origin).parent
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, str(path.relative_to(package.parent)))


def _tar(root: Path, members: list[str], target: Path, epoch: int, progress: Progress) -> None:
    """A reproducible layer: sorted names, numeric owners, mtimes clamped to ``epoch``."""
    args = ["tar", "--create", f"--file={target}", f"--directory={root}", "--sort=name"]
    args += ["--format=posix", "--numeric-owner", f"--mtime=@{epoch}", "--clamp-mtime"]
    args += ["--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime", "--xattrs"]
    run_step([*args, "--", *members], f"writing {target.name}", progress)


def _settings(version: str, created: str, source: str | None) -> list[str]:
    """``umoci config`` flags: the user, entrypoint, environment and labels a runtime reads."""
    labels = {"title": "kubeops", "version": version, "created": created, "source": source}
    flags = ["--config.user", f"{UID}:{UID}", "--config.entrypoint", ENTRYPOINT]
    flags += ["--config.env", f"PATH={PATH}", "--config.env", "PYTHONUNBUFFERED=1"]
    flags += ["--config.workingdir", f"/home/{USER}", "--os", "linux", "--architecture", "amd64"]
    for name, value in labels.items():
        if value:
            flags += ["--config.label", f"org.opencontainers.image.{name}={value}"]
    return flags


def _pack(
    umoci: Path, image: str, created: str, layers: list[tuple[Path, str]], settings: list[str]
) -> None:
    """Append ``layers`` (tar, what made it) to ``image`` (made when its layout is missing),
    then, if any, apply the config ``settings``."""
    layout = image.rpartition(":")[0]
    stamp = ["--history.created", created]
    steps = (
        [] if Path(layout).exists() else [["init", "--layout", layout], ["new", "--image", image]]
    )
    for tar, made_by in layers:
        add = ["raw", "add-layer", "--image", image, *stamp, "--history.created_by", made_by]
        steps.append([*add, str(tar)])
    if settings:
        config = ["config", "--image", image, "--created", created, *stamp]
        steps.append([*config, "--history.created_by", "kubeops image config", *settings])
    steps.append(["gc", "--layout", layout])
    for args in steps:
        run_step([str(umoci), *args], f"packing the image (umoci {args[0]})", _quiet)


def run_step(
    cmd: list[str],
    step: str,
    progress: Progress,
    *,
    env: dict[str, str] | None = None,
    clear: bool = False,
) -> None:
    """Run one step; a failure is ONE line: the step and the command's last error line."""
    full_env = dict(env or {}) if clear else {**os.environ, **(env or {})}
    cmd = [shutil.which(cmd[0]) or cmd[0], *cmd[1:]]  # found on our PATH, not the child's
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=output, stderr=output, env=full_env
            )
        except OSError as exc:
            raise ImageError(f"image: {step} failed: {cmd[0]}: {exc.strerror}") from exc
        wait_reporting(proc, step, progress, started)
        if proc.returncode != 0:
            output.seek(0)
            lines = [x.strip() for x in output.read().decode(errors="replace").splitlines()]
            cause = next((x for x in reversed(lines) if x), f"exit code {proc.returncode}")
            raise ImageError(f"image: {step} failed: {cause}")


def _blob(layout: Path, digest: str) -> dict[str, Any]:
    algorithm, _, hexdigest = digest.partition(":")
    data: dict[str, Any] = json.loads((layout / "blobs" / algorithm / hexdigest).read_bytes())
    return data


def export(image: ImageLayout, target: Path) -> None:
    """Copy the image's layout to ``target`` (replaced), as ``make image`` leaves it."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(image.layout, target, symlinks=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m kubeops.testenv.image DIR``: build (or reuse) the image, copy it to DIR."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "build/image")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        image = ensure_image(progress=say)
        export(image, target)
    except (AssetsError, OSError) as exc:
        say(f"error: {exc}")
        return 1
    layers = [f"{x['size'] / 1e6:.1f}" for x in image.manifest()["layers"]]
    say(
        f"{target}: OCI image layout, tag {image.tag}, {image.size() / 1e6:.1f} MB compressed "
        f"(layers: {' + '.join(layers)} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
