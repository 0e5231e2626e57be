"""kubeops' OCI image, as ``make image`` builds it and the in-cluster tests run it.

The image is what the chart deploys, so these check what a node would get: a
valid layout, a non-root config, no package manager or build tool a compromised
daemon could use, and -- run from the unpacked root filesystem under ``chroot`` as
uid 65532 -- the checkout's kubeops, not something else on the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import kubeops
from kubeops.testenv.assets import ensure_assets
from kubeops.testenv.image import (
    ENTRYPOINT,
    PATH,
    UID,
    VENV,
    ImageError,
    ImageLayout,
    ensure_image,
    prune_cache,
    run_step,
    source_checkout,
    source_url,
)

# A guard against the image quietly growing (it was 85 MB when this was written: 35.5 Debian, 46 dependencies, 3 kubeops).
MAX_COMPRESSED_BYTES = 100_000_000


@pytest.fixture(scope="module")
def image() -> ImageLayout:
    return ensure_image()


def _inside(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the image's root filesystem as the image's user, as a Pod would."""
    return subprocess.run(
        ["unshare", "--mount", "chroot", f"--userspec={UID}:{UID}", str(root), *argv],
        env={"PATH": PATH, "HOME": "/home/kubeops", "LC_ALL": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_runs_kubeops_as_the_non_root_user(image: ImageLayout) -> None:
    config = image.config()
    assert config["os"] == "linux"
    assert config["architecture"] == "amd64"
    settings = config["config"]
    assert settings["User"] == f"{UID}:{UID}"
    assert settings["Entrypoint"] == [ENTRYPOINT]
    assert f"PATH={PATH}" in settings["Env"]
    labels = settings["Labels"]
    assert labels["org.opencontainers.image.version"] == kubeops.__version__
    assert labels.get("org.opencontainers.image.source") == source_url(source_checkout())
    passwd = (image.rootfs() / "etc/passwd").read_text().splitlines()
    assert f"kubeops:x:{UID}:{UID}:kubeops:/home/kubeops:/usr/sbin/nologin" in passwd
    # Reproducible: timestamps are SOURCE_DATE_EPOCH's (the image's, or its cached layers').
    history = [entry["created"] for entry in config["history"]]
    assert config["created"] == max(history)
    assert labels["org.opencontainers.image.created"] == config["created"]


def test_no_package_manager_or_build_tool_is_left_inside(image: ImageLayout) -> None:
    root = image.rootfs()
    site = next((root / VENV.lstrip("/") / "lib").glob("python3*/site-packages"))
    assert (site / "kubeops" / "cli" / "main.py").is_file()  # the image does hold kubeops
    paths = ["usr/bin", "usr/sbin", "usr/local/bin", f"{VENV.lstrip('/')}/bin"]
    tools = ["pip", "pip3", "gcc", "cc", "c++", "make", "ld", "apt", "apt-get", "dpkg", "perl"]
    found = [f"{d}/{t}" for d in paths for t in tools if os.path.lexists(root / d / t)]
    assert found == []
    assert list(site.glob("pip*")) == []
    assert list(site.glob("setuptools*")) == []
    for gone in ("var/lib/dpkg", "var/lib/apt", "etc/apt", "var/cache/debconf"):
        assert not (root / gone).exists(), gone
    assert not list(root.glob("usr/lib/python3*/ensurepip"))
    assert "python3 " in (root / "usr/share/doc/kubeops-debian-packages.txt").read_text()


def test_kubeops_runs_from_the_image_as_uid_65532(image: ImageLayout) -> None:
    root = image.rootfs()
    version = _inside(root, "kubeops", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"kubeops {kubeops.__version__}"
    who = _inside(
        root, f"{VENV}/bin/python", "-c", "import os, kubeops; print(os.getuid(), kubeops.__file__)"
    )
    assert who.returncode == 0, who.stderr
    uid, module = who.stdout.split()
    assert uid == str(UID)
    assert module.startswith(f"{VENV}/lib/python3.11/site-packages/kubeops/")


# Imports every kubeops module, as the daemons will, and the native modules some import
# only when configured (the OTLP exporter's protobuf, SQLAlchemy's greenlet); names failures.
_IMPORT_ALL = """
import importlib, pkgutil, kubeops
lazy = ["google._upb._message", "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "greenlet._greenlet", "cel_expr_python.cel", "regorus", "re2", "asyncpg", "orjson"]
modules = [m.name for m in pkgutil.walk_packages(kubeops.__path__, "kubeops.")]
for name in [*modules, *lazy]:
    if not name.endswith("__main__"):
        try:
            importlib.import_module(name)
        except Exception as exc:
            print(name, type(exc).__name__, exc)
"""


def test_every_module_imports_inside_the_image(image: ImageLayout) -> None:
    # A wheel's C++ library without Debian's libstdc++ fails here, not in a daemon.
    imported = _inside(image.rootfs(), f"{VENV}/bin/python", "-c", _IMPORT_ALL)
    assert imported.returncode == 0, imported.stderr
    failed = imported.stdout.splitlines()
    # pytest is a test dependency, not shipped: the plugin alone may not import.
    assert failed == ["kubeops.testenv.pytest_plugin ModuleNotFoundError No module named 'pytest'"]


def test_the_layout_is_a_valid_oci_image(image: ImageLayout) -> None:
    umoci = ensure_assets(("umoci",)).path("umoci")
    stat = subprocess.run(
        [str(umoci), "stat", "--json", "--image", image.reference],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stat.returncode == 0, stat.stderr
    assert len(json.loads(stat.stdout)["history"]) >= 2
    layout = json.loads((image.layout / "oci-layout").read_text())
    assert layout["imageLayoutVersion"] == "1.0.0"
    manifest = image.manifest()
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    descriptors = [manifest["config"], *manifest["layers"]]
    assert len(manifest["layers"]) == 3  # Debian, dependencies, kubeops: a code change re-ships one
    for descriptor in descriptors:
        algorithm, _, digest = descriptor["digest"].partition(":")
        blob = (image.layout / "blobs" / algorithm / digest).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == digest
        assert len(blob) == descriptor["size"]
    assert image.size() < MAX_COMPRESSED_BYTES


def test_a_failed_step_is_one_line_naming_the_step_and_its_cause() -> None:
    failing = "echo 'I: downloading'; echo 'E: Unable to locate package pyhton3' >&2; exit 1"
    with pytest.raises(ImageError) as raised:
        run_step(["sh", "-c", failing], "building the Debian root filesystem (mmdebstrap)", print)
    assert str(raised.value) == (
        "image: building the Debian root filesystem (mmdebstrap) failed: "
        "E: Unable to locate package pyhton3"
    )
    with pytest.raises(ImageError) as raised:
        run_step(["no-such-umoci", "gc"], "packing the image (umoci gc)", print)
    assert str(raised.value) == (
        "image: packing the image (umoci gc) failed: no-such-umoci: No such file or directory"
    )


def test_pruning_keeps_recent_and_recently_used_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(tmp_path))
    hour = 3600
    ages = {  # name -> hours since last use
        **{f"image-{n:016x}": n for n in range(1, 7)},  # 1 h, 2 h kept; 3..6 h old ones go
        "image-deps-00000000000000a1": 5,  # the only one of its kind: kept
        "debian-bookworm-0123456789ab": 9,  # idem
        "image-0000000000000009.building-x1": 2,  # a killed build's leftover
        "image-00000000000000b1": 0.5,  # used within the hour: kept, the third most recent
    }
    for name, hours in ages.items():
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (time.time() - hours * hour,) * 2)
    prune_cache()
    kept = sorted(path.name for path in tmp_path.iterdir() if path.is_dir())
    assert kept == [
        "debian-bookworm-0123456789ab",
        "image-0000000000000001",
        "image-0000000000000002",
        "image-00000000000000b1",
        "image-deps-00000000000000a1",
    ]
