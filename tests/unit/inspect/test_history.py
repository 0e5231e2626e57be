"""The history's URLs and credentials, without a database: which driver a URL is
given, how it is printed (never with its password), URL files, PG* variables, and
URLs refused before anything connects.  Everything that reads or writes runs
against real SQLite and PostgreSQL in tests/integration/inspect/test_history.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeops.errors import KubeopsError
from kubeops.inspect.history import (
    POSTGRES_DRIVER,
    URL_FILE_LIMIT,
    History,
    HistoryError,
    mask_url,
    read_url_file,
)

PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


@pytest.fixture(autouse=True)
def no_pg_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PG_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("url", "driver", "shown"),
    [
        ("sqlite:///{dir}/inspect.db", "sqlite+aiosqlite", "sqlite:///{dir}/inspect.db"),
        ("sqlite+pysqlite:///{dir}/i.db", "sqlite+aiosqlite", "sqlite:///{dir}/i.db"),
        ("sqlite://", "sqlite+aiosqlite", "sqlite://"),
        (
            "postgresql://kube:s3cret@db:5432/inspect",
            f"postgresql+{POSTGRES_DRIVER}",
            "postgresql://kube:***@db:5432/inspect",
        ),
        (
            "postgres://kube:s3cret@db/inspect",
            f"postgresql+{POSTGRES_DRIVER}",
            "postgresql://kube:***@db/inspect",
        ),
        (
            "postgresql+psycopg2://kube:s3cret@db/inspect",
            f"postgresql+{POSTGRES_DRIVER}",
            "postgresql://kube:***@db/inspect",
        ),
        (
            "postgresql+psycopg://kube:s3cret@db/inspect",
            "postgresql+psycopg",
            "postgresql://kube:***@db/inspect",
        ),
        (
            "postgresql://kube@db/inspect?password=s3cret&sslmode=require",
            f"postgresql+{POSTGRES_DRIVER}",
            "postgresql://kube@db/inspect?password=***&sslmode=require",
        ),
    ],
)
def test_urls_get_an_async_driver_and_print_without_password(
    url: str, driver: str, shown: str, tmp_path: Path
) -> None:
    history = History(url.format(dir=tmp_path))
    assert history.engine.url.drivername == driver
    assert history.url == shown.format(dir=tmp_path)
    assert repr(history) == f"History({history.url!r})"
    assert "s3cret" not in history.url + repr(history) + repr(history.engine)


def test_a_plain_path_is_a_sqlite_file_and_parents_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.db"
    history = History(str(path))
    assert history.url == f"sqlite:///{path}"
    assert path.parent.is_dir()


def test_the_default_database_lives_in_the_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert History().url == f"sqlite:///{tmp_path / 'data' / 'kubeops' / 'inspect.db'}"


def test_a_bare_postgresql_url_is_printed_from_the_pg_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGHOST", "db.example")
    monkeypatch.setenv("PGPORT", "6432")
    monkeypatch.setenv("PGUSER", "inspect")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    monkeypatch.setenv("PGDATABASE", "history")
    history = History("postgresql://")
    assert history.url == "postgresql://inspect:***@db.example:6432/history"
    # The driver reads the variables itself (passfile, service and SSL settings too).
    assert history.engine.url.host is None
    assert history.engine.url.password is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("sqlite+nosuch://x", "cannot use this database"),
        ("postgresql+nosuchdriver://u@h/db", "cannot use this database"),
        ("mysql://u@h/db", "SQLite or PostgreSQL, not mysql"),
        ("a b://c", "not a database URL"),
        ("postgresql://user@host:notaport/db", "not a database URL"),
    ],
)
def test_bad_urls_are_one_readable_error(url: str, message: str) -> None:
    with pytest.raises(HistoryError, match=message) as info:
        History(url)
    assert isinstance(info.value, KubeopsError)
    assert "\n" not in str(info.value)


def test_an_unparseable_url_is_printed_without_its_password() -> None:
    with pytest.raises(HistoryError) as info:
        History("postgresql://kube:s3cret@host:notaport/db")
    assert "s3cret" not in str(info.value)
    assert "postgresql://kube:***@host:notaport/db" in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql+asyncpg://u:pw@h:1/db", "postgresql://u:***@h:1/db"),
        ("postgresql://u:pw@h:port/db", "postgresql://u:***@h:port/db"),
        ("postgresql://u@h/db?password=pw", "postgresql://u@h/db?password=***"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_url_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "url"
    path.write_text("\n  postgresql://kube:s3cret@db/inspect  \n\n")
    assert read_url_file(path) == "postgresql://kube:s3cret@db/inspect"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b" \n\t\n", "empty"),
        (b"x" * (URL_FILE_LIMIT + 1), "larger than 64 KiB"),
        (b"postgresql://kube:s3cret\xff@db/x", "not UTF-8"),
    ],
)
def test_a_bad_url_file_names_the_file_not_its_content(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "url"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=message) as info:
        read_url_file(path)
    assert str(path) in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "xxxx" not in str(info.value)


def test_a_missing_url_file_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"cannot read it: No such file"):
        read_url_file(tmp_path / "absent")
