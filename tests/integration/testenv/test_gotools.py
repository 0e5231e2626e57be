"""Building a pinned Go program into the cache: once, by one process at a time, again
only when its sources change; a failure shows the compiler's words and leaves nothing."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from kubeops.testenv import AssetsError, ensure_assets
from kubeops.testenv.assets import EXTRA_BINARIES
from kubeops.testenv.gotools import GoProgram, cached_program

MAIN = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("%s") }\n'


@pytest.fixture
def program(tmp_path: Path) -> GoProgram:
    if shutil.which("go") is None:
        pytest.fail("this test needs Go on PATH")
    module = tmp_path / "hello"
    module.mkdir()
    (module / "go.mod").write_text("module example.test/hello\n\ngo 1.22\n")
    (module / "main.go").write_text(MAIN % "one")
    return GoProgram("hello", module)


def test_built_once_then_reused_without_go(
    program: GoProgram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    said: list[str] = []
    threads = [
        threading.Thread(target=cached_program, args=(program, cache, said.append))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(line.startswith("building hello") for line in said) == 1
    binary = cached_program(program, cache)
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout == "one\n"
    assert not list(cache.glob("*.building-*"))

    # Cached: found without Go.
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert cached_program(program, cache, said.append) == binary
    assert sum(line.startswith("building") for line in said) == 1

    # An edit is a new key, and without Go the message says what to install.
    (program.module / "main.go").write_text(MAIN % "two")
    with pytest.raises(AssetsError, match="`go` is not on PATH; install Go"):
        cached_program(program, cache)


def test_a_compile_error_is_shown_and_nothing_is_left(program: GoProgram, tmp_path: Path) -> None:
    (program.module / "main.go").write_text("package main\n\nfunc main() { not go }\n")
    with pytest.raises(AssetsError) as caught:
        cached_program(program, tmp_path / "cache")
    assert "building hello failed" in str(caught.value)
    assert "main.go:3" in str(caught.value)
    assert list((tmp_path / "cache").iterdir()) == [
        tmp_path / "cache" / f"hello-{program.key()}.lock"
    ]


def test_the_extra_servers_are_built_beside_the_control_plane_and_run() -> None:
    assets = ensure_assets(("etcd", *EXTRA_BINARIES))
    for name in EXTRA_BINARIES:
        path = assets.path(name)
        assert path.parent.parent == assets.directory.parent
        assert path.parent.name.startswith(f"{name}-")
    version = subprocess.run(
        [assets.path("alertmanager"), "--version"], capture_output=True, text=True, check=True
    )
    assert "version 0.31.1" in version.stdout + version.stderr
    version = subprocess.run(
        [assets.path("metrics-server"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "v0.8.0"
