"""Missing, broken and unbuildable binaries each end in one clear message."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kubeops.testenv import AssetsError, ensure_assets
from kubeops.testenv.assets import cache_key, controlplane_dir, read_pins


@pytest.fixture
def no_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A PATH without Go and an empty build cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("KUBEOPS_ASSETS", raising=False)
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_no_go_and_no_assets_names_both_ways_to_get_them(no_go: Path) -> None:
    with pytest.raises(AssetsError) as caught:
        ensure_assets(["etcd", "kube-apiserver"])
    message = str(caught.value)
    assert "install Go" in message
    assert "KUBEOPS_ASSETS" in message
    assert "envtest" in message


def test_assets_dir_missing_binaries_names_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "etcd").write_text("")
    monkeypatch.setenv("KUBEOPS_ASSETS", str(tmp_path))
    with pytest.raises(AssetsError, match=r"lacks kube-apiserver, kwok, kwok-stages.yaml"):
        ensure_assets(["etcd", "kube-apiserver", "kwok"])


def test_assets_dir_with_a_corrupt_binary_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = ensure_assets(["etcd"])
    shutil.copy(real.path("etcd"), tmp_path / "etcd")
    corrupt = tmp_path / "kube-apiserver"
    corrupt.write_bytes(b"\x7fELF\x02\x01\x01garbage")
    corrupt.chmod(0o755)
    monkeypatch.setenv("KUBEOPS_ASSETS", str(tmp_path))
    with pytest.raises(
        AssetsError, match=r"do not run: kube-apiserver: .*kube-apiserver --version failed"
    ):
        ensure_assets(["etcd", "kube-apiserver"])


def test_assets_dir_in_envtest_layout_is_used_as_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = ensure_assets(["etcd", "kube-apiserver", "kubectl"])
    for binary in ("etcd", "kube-apiserver", "kubectl"):
        os.link(real.path(binary), tmp_path / binary)
    monkeypatch.setenv("KUBEOPS_ASSETS", str(tmp_path))
    assets = ensure_assets(["etcd", "kube-apiserver"])
    assert assets.directory == tmp_path
    assert assets.source == "KUBEOPS_ASSETS"


@pytest.fixture
def real_cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real build cache (built now if missing), found before ``no_go`` hides it."""
    monkeypatch.delenv("KUBEOPS_ASSETS", raising=False)
    return ensure_assets(["etcd", "kube-apiserver"]).directory


def test_a_corrupt_cached_binary_is_detected_and_not_kept(real_cache: Path, no_go: Path) -> None:
    source = controlplane_dir()
    cached = no_go / "controlplane" / cache_key(source, read_pins(source))
    shutil.copytree(real_cache, cached, copy_function=os.link)
    (cached / "kube-apiserver").unlink()
    (cached / "kube-apiserver").write_bytes(b"not a binary")
    (cached / "kube-apiserver").chmod(0o755)
    said: list[str] = []
    # Without Go the rebuild cannot happen, so the message says how to get binaries.
    with pytest.raises(AssetsError, match="found neither Go nor prebuilt"):
        ensure_assets(["etcd", "kube-apiserver"], progress=said.append)
    assert any("broken" in line and "kube-apiserver" in line for line in said)
    assert not cached.exists()
    assert (real_cache / "kube-apiserver").stat().st_size > 1_000_000


def test_a_failed_go_build_shows_the_compiler_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if shutil.which("go") is None:
        pytest.fail("this test needs Go on PATH")
    broken = tmp_path / "controlplane"
    shutil.copytree(controlplane_dir(), broken)
    main = broken / "kwok" / "stages" / "main.go"
    main.write_text(main.read_text().replace("func main() {", "func main() { this is not go"))
    monkeypatch.setenv("KUBEOPS_CONTROLPLANE_DIR", str(broken))
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KUBEOPS_ASSETS", raising=False)
    with pytest.raises(AssetsError) as caught:
        ensure_assets(["etcd"])
    message = str(caught.value)
    assert "building kwok's default stages failed" in message
    assert "syntax error" in message
    leftovers = list((tmp_path / "cache" / "controlplane").glob("*.building-*"))
    assert leftovers == []
    assert (
        subprocess.run(["pgrep", "-f", str(broken)], capture_output=True, check=False).stdout == b""
    )
