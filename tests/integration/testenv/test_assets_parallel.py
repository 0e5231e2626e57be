"""`kubeops testenv assets` (ensure_assets with everything) builds the extra servers at
the same time as the control plane, and a second run builds nothing.  A stand-in `go`
on PATH records each command with its start and end time and writes a small script
where a binary would go, so the order is observed without minutes of compiling."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kubeops.testenv import ensure_assets
from kubeops.testenv.assets import EVERY_BINARY, controlplane_dir

FAKE_GO = r"""#!/bin/sh
log="$FAKE_GO_LOG"
case "$1" in
  env) echo go1.99-fake; exit 0 ;;
  run) echo "$(date +%s.%N) start run" >> "$log"; echo "kind: Stage"
       echo "$(date +%s.%N) end run" >> "$log"; exit 0 ;;
esac
out=""; prev=""; what=""
for arg in "$@"; do
  [ "$prev" = "-o" ] && out="$arg"
  prev="$arg"; what="$arg"
done
echo "$(date +%s.%N) start $what" >> "$log"
sleep 1
write() { printf '#!/bin/sh\necho fake\n' > "$1"; chmod +x "$1"; }
case "$out" in
  */) for arg in "$@"; do case "$arg" in */cmd/*) write "$out$(basename "$arg")" ;; esac; done ;;
  *) write "$out" ;;
esac
echo "$(date +%s.%N) end $what" >> "$log"
"""


def test_extras_build_alongside_the_control_plane_and_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text(FAKE_GO)
    (bin_dir / "go").chmod(0o755)
    log = tmp_path / "go.log"
    source = tmp_path / "controlplane"
    shutil.copytree(controlplane_dir(), source)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GO_LOG", str(log))
    monkeypatch.setenv("KUBEOPS_CONTROLPLANE_DIR", str(source))
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KUBEOPS_ASSETS", raising=False)

    assets = ensure_assets()
    assert all(assets.path(binary).is_file() for binary in EVERY_BINARY)
    events = {}
    for line in log.read_text().splitlines():
        stamp, edge, what = line.split(" ", 2)
        events[(edge, what.rsplit("/", 1)[-1])] = float(stamp)
    control_plane_done = events[("end", "kubectl")]
    for extra in ("alertmanager", "metrics-server"):
        assert events[("start", extra)] < control_plane_done, events
    first_run = log.read_text()

    again = ensure_assets()
    assert again.path("metrics-server") == assets.path("metrics-server")
    assert log.read_text() == first_run  # nothing built the second time
