"""The history database on real SQLite files: recording, trend order, pruning,
reopening, the schema version, and errors that name the database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from kubeops.errors import KubeopsError
from kubeops.inspect import InspectConfig, Snapshot, build_document, run_checks
from kubeops.inspect.history import SCHEMA_VERSION, History, HistoryError, attach_history
from kubeops.inspect.model import ClusterResult
from kubeops.inspect.runner import assemble_report


def node(name: str, ready: str = "True") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest"}]},
        "status": {"phase": "Running"},
    }


def document(down: int = 0, *, unreachable: bool = False) -> dict[str, Any]:
    """A real document: cluster ``a`` with ``down`` NotReady nodes and a Pod, cluster
    ``b`` unreachable when asked."""
    objects = [node(f"n{i}", "False" if i < down else "True") for i in range(3)]
    snapshot = Snapshot.from_objects([*objects, pod("web", "shop")], name="a")
    snapshot.static = False
    results = [run_checks(snapshot, InspectConfig())]
    if unreachable:
        results.append(ClusterResult(name="b", reachable=False, error="connection refused"))
    return build_document(assemble_report(results, InspectConfig(), mode="live"))


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history' / 'inspect.db'}"


def test_record_and_read_back(db: str) -> None:
    doc = document(down=1, unreachable=True)
    with History(db) as history:
        assert history.latest() is None
        assert history.trend() == []
        run_id = history.record(doc, runner="replica-1", seconds=1.5)
        assert history.latest() == doc
        assert history.get(run_id) == doc
        assert history.get(run_id + 1) is None
        (entry,) = history.runs()
    assert entry["id"] == run_id
    assert entry["runner"] == "replica-1"
    assert entry["seconds"] == 1.5
    assert entry["unreachable"] == 1
    assert entry["score"] == doc["score"]
    assert entry["grade"] == doc["grade"]
    assert entry["findings"] == doc["summary"]["findings"] > 0
    assert entry["by_severity"] == doc["summary"]["by_severity"]
    assert entry["by_severity"]["critical"] == 1
    assert entry["clusters"] == {
        "a": {"score": doc["clusters"][0]["score"], "grade": doc["clusters"][0]["grade"]},
        "b": {"score": None, "grade": None},
    }


def test_trend_is_oldest_first_has_the_documented_shape_and_limits(db: str) -> None:
    with History(db) as history:
        ids = [history.record(document(down=d)) for d in (0, 1, 2, 3)]
        trend = history.trend()
        assert [set(e) for e in trend] == [
            {"generated", "score", "grade", "findings", "by_severity", "clusters"}
        ] * 4
        assert [e["by_severity"]["critical"] for e in trend] == [0, 1, 2, 3]
        # The newest N, still oldest first; and a trend ending at an older run.
        assert [e["by_severity"]["critical"] for e in history.trend(2)] == [2, 3]
        assert [e["by_severity"]["critical"] for e in history.trend(2, until=ids[1])] == [0, 1]
        assert history.count() == 4


def test_attach_history_records_and_ends_the_trend_with_this_run(db: str) -> None:
    with History(db) as history:
        history.record(document(down=2))
        doc = document(down=0)
        run_id = attach_history(doc, history)
        assert doc["history"][-1]["score"] == doc["score"]
        assert [e["by_severity"]["critical"] for e in doc["history"]] == [2, 0]
        # The stored copy does not nest the history inside itself.
        stored = history.get(run_id)
        assert stored is not None
        assert "history" not in stored


def test_prune_keeps_the_newest_runs(db: str) -> None:
    with History(db) as history:
        ids = [history.record(document(down=d % 3)) for d in range(5)]
        assert history.prune(2) == 3
        assert [e["id"] for e in history.runs()] == ids[-2:]
        assert history.get(ids[0]) is None
        assert history.prune(10) == 0
        with pytest.raises(HistoryError, match="keep at least one"):
            history.prune(0)
    # The per-cluster rows went with their runs.
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT DISTINCT run_id FROM kubeops_inspect_cluster_scores").fetchall()
    assert sorted(r[0] for r in rows) == ids[-2:]


def test_reopening_keeps_the_runs_and_ids_keep_growing(db: str) -> None:
    with History(db) as history:
        first = history.record(document())
    with History(db) as history:
        assert history.latest_id() == first
        second = history.record(document(down=1))
        assert second > first
        assert [e["by_severity"]["critical"] for e in history.trend()] == [0, 1]


def test_a_plain_path_is_a_sqlite_file_and_parents_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    with History(str(path)) as history:
        history.record(document())
        assert history.url == f"sqlite:///{path}"
    assert path.exists()


def test_a_database_from_a_newer_kubeops_is_refused(db: str) -> None:
    History(db).close()
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE kubeops_inspect_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(HistoryError, match="newer kubeops"):
        History(db)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("sqlite+nosuch://x", "cannot use this database"),
        ("postgresql+nosuchdriver://u@h/db", "cannot use this database"),
        ("a b://c", "not a database URL"),
        ("postgresql://user@host:notaport/db", "not a database URL"),
    ],
)
def test_bad_urls_are_one_readable_error(url: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message) as info:
        History(url)
    assert isinstance(info.value, KubeopsError)


def test_an_unusable_database_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "db-is-a-directory"
    folder.mkdir()
    with pytest.raises(HistoryError, match=f"history sqlite:///{folder}: cannot create"):
        History(f"sqlite:///{folder}")


def test_the_password_never_appears_in_messages() -> None:
    # Nothing listens on port 1; the driver may be missing too: both must hide the password.
    with pytest.raises(HistoryError) as info:
        History("postgresql://kube:s3cret@127.0.0.1:1/inspect")
    assert "s3cret" not in str(info.value)


def test_an_in_memory_database_is_shared_by_threads() -> None:
    with History("sqlite://") as history:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(5):
                    history.record(document())
                    history.trend()
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert history.count() == 20


def test_two_handles_on_one_file_see_each_others_runs(db: str) -> None:
    with History(db) as writer, History(db) as reader:
        run_id = writer.record(document())
        assert reader.latest_id() == run_id
        assert reader.latest() == writer.get(run_id)


def test_the_default_database_lives_in_the_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with History() as history:
        history.record(document())
    assert (tmp_path / "data" / "kubeops" / "inspect.db").exists()
