"""The pod runner's pure parts: the kubelet's atomic volume layout, paths resolved
inside an image, Kubernetes' $(VAR) expansion, port substitution, the image's user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeops.testenv.pod import _expand, _substitute_port
from kubeops.testenv.podfs import AtomicDir, PodError, image_user, path_inside


def test_a_volume_is_swapped_whole_through_data(tmp_path: Path) -> None:
    volume = AtomicDir(tmp_path / "v")
    volume.write({"token": (b"one", 0o644), "sub/key": (b"k", 0o600), "gone": (b"x", 0o644)})
    first = os.readlink(tmp_path / "v" / "..data")
    assert first.startswith("..")
    assert os.readlink(tmp_path / "v" / "token") == "..data/token"
    assert (tmp_path / "v" / "sub" / "key").read_bytes() == b"k"
    assert (tmp_path / "v" / first / "sub" / "key").stat().st_mode & 0o777 == 0o600

    volume.write({"token": (b"two", 0o644), "sub/key": (b"k", 0o600)})
    second = os.readlink(tmp_path / "v" / "..data")
    assert second != first
    assert not (tmp_path / "v" / first).exists()  # the old generation is removed
    assert (tmp_path / "v" / "token").read_bytes() == b"two"
    assert not (tmp_path / "v" / "gone").is_symlink()  # a key no longer there disappears
    hidden = sorted(p.name for p in (tmp_path / "v").iterdir() if p.name.startswith(".."))
    assert hidden == sorted([second, "..data"])


def test_a_volume_file_may_not_leave_its_volume(tmp_path: Path) -> None:
    with pytest.raises(PodError, match="leaves its volume"):
        AtomicDir(tmp_path / "v").write({"../escape": (b"x", 0o644)})


def test_paths_resolve_inside_the_image(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run").symlink_to("/run")  # absolute: the image's /run, not the host's
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "link").symlink_to("../run")
    (tmp_path / "loop").symlink_to("/loop")
    assert path_inside(tmp_path, "/var/run/secrets/x") == "/run/secrets/x"
    assert path_inside(tmp_path, "/etc/link/a") == "/run/a"
    assert path_inside(tmp_path, "/a/../b/./c") == "/b/c"
    with pytest.raises(PodError, match="symlink loop"):
        path_inside(tmp_path, "/loop/x")


def test_var_references_expand_as_kubernetes_does() -> None:
    env = {"NS": "kubeops-system", "PORT": "8080"}
    assert _expand("--lease-namespace=$(NS)", env) == "--lease-namespace=kubeops-system"
    assert _expand("$(MISSING) and $$(NS) and $$", env) == "$(MISSING) and $(NS) and $"


def test_ports_are_substituted_only_where_an_argument_ends_with_one() -> None:
    ports = {8080: 31000}
    assert _substitute_port("--listen=:8080", ports) == "--listen=:31000"
    assert _substitute_port("0.0.0.0:8080", ports) == "0.0.0.0:31000"
    assert _substitute_port("--replicas=2", ports) == "--replicas=2"
    assert _substitute_port("--listen=:8081", ports) == "--listen=:8081"
    assert _substitute_port("8080", ports) == "8080"


def test_the_image_user_is_looked_up_in_its_own_databases(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\nkubeops:x:65532:65533::/:\n"
    )
    (tmp_path / "etc" / "group").write_text("root:x:0:\nkubeops:x:65533:\nother:x:7:\n")
    assert image_user(tmp_path, "") == (0, 0)
    assert image_user(tmp_path, "kubeops") == (65532, 65533)
    assert image_user(tmp_path, "kubeops:other") == (65532, 7)
    assert image_user(tmp_path, "65532:65532") == (65532, 65532)
    assert image_user(tmp_path, "1234") == (1234, 1234)
    with pytest.raises(PodError, match="nobody"):
        image_user(tmp_path, "nobody")
