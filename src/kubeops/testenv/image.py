"""Builds kubeops' OCI image without a container engine, and caches it.

The one builder behind ``make image`` and the in-cluster tests (which run the
daemons from the image's own root filesystem, so what runs is what ships):

1. a Debian bookworm root filesystem from ``mmdebstrap`` (variant ``essential``
   plus :data:`PACKAGES`), stripped of dpkg, its database and documentation,
   cached as a tar keyed by the package list alone, so a code change never
   re-runs mmdebstrap;
2. kubeops' wheel and its dependencies' wheels, built outside (pinned to the
   versions installed in the running environment, so the image runs the code
   the tests ran), installed into a venv at ``/opt/kubeops`` that the image's
   own ``python3`` creates -- pip runs from a zip outside the venv, so no pip
   stays inside;
3. two layers (Debian, kubeops) packed by ``umoci`` into an OCI image layout
   tagged with kubeops' version, running as ``kubeops`` (65532:65532), every
   timestamp clamped to ``SOURCE_DATE_EPOCH``.

The image lives in ``~/.cache/kubeops/image-<key>/`` (key: ``src/``, ``pyproject.toml``,
``controlplane/``, the dependency pins and the Debian package list).  A file lock
makes concurrent first calls build once; a build appears only by renaming its
finished directory.  Building needs root (mmdebstrap's root mode, ``chroot``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
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
from kubeops.testenv.gotools import locked

Progress = Callable[[str], None]

SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
PACKAGES = ("python3", "ca-certificates")
USER = "kubeops"
UID = 65532
VENV = "/opt/kubeops"
ENTRYPOINT = "/usr/local/bin/kubeops"
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Bump when a step below changes what it produces: every cached image then rebuilds.
_RECIPE = "kubeops-image-1"
# Never installed at runtime, so not shipped: documentation and translations.
_DPKG_EXCLUDES = ("doc/*", "man/*", "info/*", "locale/*", "lintian/*", "linda/*")
# Removed from the Debian root filesystem once mmdebstrap is done: the package
# manager and its database, logs and caches -- nothing in the image installs anything.
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
# What the kubeops layer holds: the venv, its command on PATH, the user, and the
# list of Debian packages (their database is gone, so scanners read this instead).
_PACKAGE_LIST = "usr/share/doc/kubeops-debian-packages.txt"
_KUBEOPS_LAYER = ("etc/group", "etc/passwd", "home", "opt", ENTRYPOINT.lstrip("/"), _PACKAGE_LIST)
_HEARTBEAT_SECONDS = 30.0


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
        final = self.directory / "rootfs"
        if (final / "etc" / "passwd").is_file():
            return final
        with locked(self.directory / "rootfs.lock"):
            if not (final / "etc" / "passwd").is_file():
                staging = self.directory / "rootfs.unpacking"
                shutil.rmtree(staging, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
                _run(
                    [str(_umoci()), "raw", "unpack", "--image", self.reference, str(staging)],
                    "unpacking the image (umoci raw unpack)",
                    _quiet,
                )
                staging.rename(final)
        return final


def _quiet(_: str) -> None:
    pass


def ensure_image(progress: Progress = _quiet) -> ImageLayout:
    """kubeops' image for this checkout, from the cache or built into it first."""
    checkout = source_checkout()
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    pins = dependency_pins()
    key = image_key(checkout, pins)
    final = cache_root() / f"image-{key}"
    image = ImageLayout(final, project["version"])
    if (final / "image.json").is_file():
        return image
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final.parent / f"{final.name}.lock"):
        if not (final / "image.json").is_file():
            _build(checkout, project, pins, final, progress)
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
    lines = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() != "kubeops"
    }
    return "".join(f"{line}\n" for line in sorted(lines, key=str.lower))


def image_key(checkout: Path, pins: str) -> str:
    """Changes with any file of the wheel, the pins, the Debian packages or the recipe."""
    digest = hashlib.sha256(f"{_RECIPE}\n{_base_key()}\n{pins}".encode())
    files = [checkout / "pyproject.toml", checkout / "README.md"]
    for tree in (checkout / "src" / "kubeops", checkout / "controlplane"):
        files += [p for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        if path.is_file():
            digest.update(f"{path.relative_to(checkout)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _base_key() -> str:
    spec = [_RECIPE, *MIRRORS, *PACKAGES, *_DPKG_EXCLUDES, *REMOVED]
    return f"{SUITE}-" + hashlib.sha256("\n".join(spec).encode()).hexdigest()[:12]


def source_date_epoch(checkout: Path) -> int:
    """``SOURCE_DATE_EPOCH``, else the last commit's time, else 0: every timestamp's ceiling."""
    explicit = os.environ.get("SOURCE_DATE_EPOCH")
    if explicit and explicit.isdigit():
        return int(explicit)
    out = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%ct"],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else 0


def _build(
    checkout: Path, project: dict[str, Any], pins: str, final: Path, progress: Progress
) -> None:
    if os.geteuid() != 0:
        raise ImageError("image: building needs root (mmdebstrap's root mode and chroot)")
    started = time.monotonic()
    version = project["version"]
    epoch = source_date_epoch(checkout)
    progress(f"building kubeops' image {version}; first run only, cached in {final}")
    umoci = _umoci(progress)
    timings: dict[str, float] = {}
    base = _ensure_base(epoch, progress, timings)
    staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
    staging.chmod(0o755)
    try:
        root, work = staging / "root", staging / "work"
        work.mkdir()
        step = time.monotonic()
        wheels = _wheels(checkout, project, pins, work, progress)
        timings["wheels"] = time.monotonic() - step
        step = time.monotonic()
        root.mkdir()
        _run(
            ["tar", "-xf", str(base / "rootfs.tar"), "-C", str(root), "--numeric-owner"],
            "extracting the Debian root filesystem",
            progress,
        )
        _install(root, wheels, epoch, progress)
        _add_user(root)
        shutil.copy(base / "packages.txt", root / _PACKAGE_LIST)
        app = work / "kubeops.tar"
        _tar(root, list(_KUBEOPS_LAYER), app, epoch, progress)
        timings["install"] = time.monotonic() - step
        step = time.monotonic()
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        layers = [(base / "rootfs.tar", f"mmdebstrap {SUITE}"), (app, f"kubeops {version}")]
        settings = _settings(version, created, source_url(checkout))
        _pack(umoci, f"{staging / 'oci'}:{version}", created, layers, settings)
        timings["pack"] = time.monotonic() - step
        shutil.rmtree(root)
        shutil.rmtree(work)
        image = ImageLayout(staging, version)
        _run(
            [str(umoci), "stat", "--image", image.reference],
            "checking the image (umoci stat)",
            progress,
        )
        meta = {
            "version": version,
            "tag": version,
            "size": image.size(),
            "epoch": epoch,
            "timings": {k: round(v, 1) for k, v in timings.items()},
        }
        (staging / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)  # a leftover without its image.json
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(
        f"built kubeops' image {version} in {time.monotonic() - started:.0f}s "
        f"({meta['size'] / 1e6:.1f} MB compressed): {final / 'oci'}"
    )


def _umoci(progress: Progress = _quiet) -> Path:
    return ensure_assets(("umoci",), progress).path("umoci")


def _ensure_base(epoch: int, progress: Progress, timings: dict[str, float]) -> Path:
    """The stripped Debian root filesystem as ``rootfs.tar``, built once per package list."""
    final = cache_root() / f"debian-{_base_key()}"
    if (final / "rootfs.tar").is_file():
        return final
    with locked(final.parent / f"{final.name}.lock"):
        if (final / "rootfs.tar").is_file():
            return final
        if shutil.which("mmdebstrap") is None:
            raise ImageError(
                "image: the Debian root filesystem needs mmdebstrap, which is not on PATH "
                "(apt-get install mmdebstrap, or `make image`)"
            )
        started = time.monotonic()
        progress(f"mmdebstrap: Debian {SUITE} + {', '.join(PACKAGES)} (first run only)")
        staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
        try:
            root = staging / "root"
            # merged-usr by symlinks: bookworm's usrmerge package would pull in perl.
            args = [
                "mmdebstrap",
                "--mode=root",
                "--variant=essential",
                "--quiet",
                f"--include={','.join(PACKAGES)}",
                "--format=directory",
                "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
            ]
            for pattern in _DPKG_EXCLUDES:
                args.append(f"--dpkgopt=path-exclude=/usr/share/{pattern}")
            args.append("--dpkgopt=path-include=/usr/share/doc/*/copyright")
            _run(
                [*args, SUITE, str(root), *MIRRORS],
                "building the Debian root filesystem (mmdebstrap)",
                progress,
                env={"SOURCE_DATE_EPOCH": str(epoch)},
            )
            listing = subprocess.run(
                ["chroot", str(root), "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            (staging / "packages.txt").write_text(listing)
            _strip(root)
            _tar(root, sorted(os.listdir(root)), staging / "rootfs.tar", epoch, progress)
            shutil.rmtree(root)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        timings["debian"] = time.monotonic() - started
        progress(f"built the Debian root filesystem in {timings['debian']:.0f}s")
    return final


def _strip(root: Path) -> None:
    for pattern in REMOVED:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _wheels(
    checkout: Path, project: dict[str, Any], pins: str, work: Path, progress: Progress
) -> list[Path]:
    """kubeops' wheel (built now) and its dependencies' (cached by pins), for the image."""
    deps = _dependency_wheels(project.get("dependencies", []), pins, progress)
    own = work / "own"
    progress("building kubeops' wheel (pip wheel --no-deps)")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(own),
            str(checkout),
        ],
        "building kubeops' wheel (pip wheel)",
        progress,
    )
    return sorted(deps.glob("*.whl")) + sorted(own.glob("*.whl"))


def _dependency_wheels(requirements: Sequence[str], pins: str, progress: Progress) -> Path:
    spec = "\n".join([*requirements, pins])
    final = cache_root() / f"image-wheels-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    if final.is_dir():
        return final
    with locked(final.parent / f"{final.name}.lock"):
        if final.is_dir():
            return final
        progress(f"fetching {len(requirements)} dependencies' wheels (pip wheel, pinned)")
        staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
        try:
            (staging / "pins.txt").write_text(pins)
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "wheel",
                    "--quiet",
                    "-c",
                    str(staging / "pins.txt"),
                    "-w",
                    str(staging),
                    *requirements,
                ],
                "fetching the dependencies' wheels (pip wheel)",
                progress,
            )
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _install(root: Path, wheels: list[Path], epoch: int, progress: Progress) -> None:
    """A venv made by the image's python3, the wheels installed by a pip kept outside it."""
    inbox = root / "tmp" / "kubeops-build"
    inbox.mkdir(parents=True)
    for wheel in wheels:
        shutil.copy(wheel, inbox / wheel.name)
    _zip_pip(inbox / "pip.zip")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "LC_ALL": "C.UTF-8",
        "SOURCE_DATE_EPOCH": str(epoch),
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    _run(
        ["chroot", str(root), "python3", "-m", "venv", "--without-pip", VENV],
        "making the venv (python3 -m venv)",
        progress,
        env=env,
        clear=True,
    )
    progress(f"installing {len(wheels)} wheels into {VENV}")
    _run(
        [
            "chroot",
            str(root),
            f"{VENV}/bin/python",
            "/tmp/kubeops-build/pip.zip/pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--root-user-action=ignore",
            *[f"/tmp/kubeops-build/{w.name}" for w in wheels],
        ],
        "installing the wheels (pip install)",
        progress,
        env=env,
        clear=True,
    )
    shutil.rmtree(inbox)
    link = root / ENTRYPOINT.lstrip("/")
    link.unlink(missing_ok=True)
    link.symlink_to(f"{VENV}/bin/kubeops")


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


def _add_user(root: Path) -> None:
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write(f"{USER}:x:{UID}:{UID}:kubeops:/home/{USER}:/usr/sbin/nologin\n")
    with (root / "etc/group").open("a") as group:
        group.write(f"{USER}:x:{UID}:\n")
    home = root / "home" / USER
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, UID, UID)
    home.chmod(0o750)


def _tar(root: Path, members: list[str], target: Path, epoch: int, progress: Progress) -> None:
    """A reproducible layer: sorted names, numeric owners, mtimes clamped to ``epoch``."""
    _run(
        [
            "tar",
            "--create",
            f"--file={target}",
            f"--directory={root}",
            "--sort=name",
            "--format=posix",
            "--numeric-owner",
            f"--mtime=@{epoch}",
            "--clamp-mtime",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            "--xattrs",
            "--",
            *members,
        ],
        f"writing {target.name}",
        progress,
    )


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
    """An OCI layout: ``layers`` (tar, what made it) in order, then the config ``settings``."""
    layout = image.rpartition(":")[0]
    stamp = ["--history.created", created]
    steps = [["init", "--layout", layout], ["new", "--image", image]]
    for tar, made_by in layers:
        steps.append(["raw", "add-layer", "--image", image, *stamp, "--history.created_by",
                      made_by, str(tar)])  # fmt: skip
    steps.append(["config", "--image", image, "--created", created, *stamp, "--history.created_by",
                  "kubeops image config", *settings])  # fmt: skip
    steps.append(["gc", "--layout", layout])
    for args in steps:
        _run([str(umoci), *args], f"packing the image (umoci {args[0]})", _quiet)


def source_url(checkout: Path) -> str | None:
    """Where the image's source is (``[project.urls]`` Source, else git's ``origin``), if known."""
    project = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]
    urls = {k.lower(): v for k, v in project.get("urls", {}).items()}
    for label in ("source", "repository", "homepage"):
        if isinstance(urls.get(label), str):
            return str(urls[label])
    out = subprocess.run(
        ["git", "-C", str(checkout), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None


def _run(
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
        try:
            while True:
                try:
                    proc.wait(timeout=_HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    progress(f"still {step} ({time.monotonic() - started:.0f}s so far)")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
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
    say(
        f"{target}: OCI image layout, tag {image.tag}, {image.size() / 1e6:.1f} MB compressed "
        f"({len(image.manifest()['layers'])} layers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
