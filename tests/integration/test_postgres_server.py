"""The testenv's PostgreSQL: a real server, started and ended by the tests themselves."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kubeops.testenv import rundir
from kubeops.testenv.postgres import PostgresError, PostgresServer, postgres_binaries
from kubeops.testenv.process import is_same_process


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as pg:
        yield pg


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def test_password_login_over_tcp_as_an_unprivileged_owner(server: PostgresServer) -> None:
    assert server.url.startswith(f"postgresql://kubeops:{server.password}@127.0.0.1:")
    with psycopg.connect(server.url, autocommit=True) as conn:
        user, database, superuser, address = (
            conn.execute(
                "SELECT current_user, current_database(), "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), inet_server_addr()"
            ).fetchone()
            or ()
        )
        assert (user, database, superuser) == ("kubeops", "kubeops", False)
        assert str(address) == "127.0.0.1"
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
        conn.execute("CREATE TABLE owned (n int)")  # the role owns its database
    wrong = server.url.replace(server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()
    # PostgreSQL refuses root; the postmaster runs as an ordinary user.
    (pid,) = server.pids()
    assert _uid(pid) != 0


def test_create_database_gives_an_isolated_database(server: PostgresServer) -> None:
    first = server.create_database("isolated_a")
    second = server.create_database("isolated_b")
    assert first.endswith("/isolated_a")
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int)")
        conn.execute("INSERT INTO t VALUES (1)")
    with psycopg.connect(second, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)
        # Dropping ends the connections still open to the database.
        server.drop_database("isolated_b")
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    server.drop_database("isolated_a")
    names = server.psql("SELECT datname FROM pg_database ORDER BY 1").split()
    assert "isolated_a" not in names
    assert "isolated_b" not in names
    assert "kubeops" in names
    with pytest.raises(ValueError, match="lower-case letters"):
        server.create_database('x"; DROP DATABASE kubeops; --')


def test_restart_drops_open_connections_and_keeps_the_data(server: PostgresServer) -> None:
    url = server.create_database("restarted")
    conn = psycopg.connect(url, autocommit=True)
    try:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (1), (2)")
        (before,) = server.pids()
        server.restart()
        (after,) = server.pids()
        assert after != before
        assert not is_same_process(before, None)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    with psycopg.connect(url) as again:
        assert again.execute("SELECT sum(n) FROM kept").fetchone() == (3,)
    server.drop_database("restarted")


def test_stop_then_start_is_an_outage_of_the_same_server(server: PostgresServer) -> None:
    url = server.create_database("outage")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    assert server.pids() == []
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()
    server.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
    server.drop_database("outage")


def test_close_removes_the_directory_and_is_idempotent() -> None:
    server = PostgresServer()
    server.start()
    run_dir = server.run_dir
    assert run_dir is not None
    assert (run_dir / "data" / "PG_VERSION").is_file()
    (pid,) = server.pids()
    server.close()
    assert not run_dir.exists()
    assert not is_same_process(pid, None)
    server.close()
    server.stop()
    assert server.run_dir is None


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory the ``postgres`` user can reach (pytest's tmp_path is root's alone)."""
    base = rundir.default_base()
    if os.geteuid() == 0:  # the postgres user must enter root's private base
        rundir.allow_group_traverse(base, pwd.getpwnam("postgres").pw_gid)
    directory = Path(tempfile.mkdtemp(prefix="given-", dir=base))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_given_directory_is_kept_after_close(reachable_dir: Path) -> None:
    directory = reachable_dir / "pg"
    with PostgresServer(directory) as server:
        assert server.run_dir == directory
        (pid,) = server.pids()
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert (directory / "data" / "PG_VERSION").is_file()
    assert (directory / "postgres.log").is_file()
    assert not is_same_process(pid, None)
    # A directory that is someone else's is refused, not emptied.
    other = reachable_dir / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(PostgresError, match="not empty"):
        PostgresServer(other).start()
    assert (other / "notes.txt").read_text() == "mine"


def test_passwords_stay_out_of_repr_progress_errors_and_the_log() -> None:
    lines: list[str] = []
    with PostgresServer(progress=lines.append) as server:
        assert any(line.startswith("postgres ready on 127.0.0.1:") for line in lines)
        assert server.password not in repr(server)
        assert "***" in server.masked_url
        # A failing statement that carries a password: psql's error and the log hide it.
        with pytest.raises(PostgresError, match="already exists") as failed:
            server.psql(f"CREATE ROLE kubeops LOGIN PASSWORD '{server.password}';")
        assert server.password not in str(failed.value)
        server.restart()
        log = server.log_file.read_text()
        assert "already exists" in log
        assert server.password not in log
        assert server._superuser_password not in log
    assert lines
    assert all(server.password not in line for line in lines)


OWNER_SCRIPT = (
    "import sys\n"
    "from kubeops.testenv.postgres import PostgresServer\n"
    "server = PostgresServer()\n"
    "server.start()\n"
    "print(server.run_dir, server.pids()[0], flush=True)\n"
    "sys.stdin.read()\n"
)


def _owner_process() -> tuple[subprocess.Popen[str], Path, int]:
    """A Python process that started a server and waits; its run dir and postmaster pid."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    run_dir, pid = owner.stdout.readline().split()
    return owner, Path(run_dir), int(pid)


def test_sigterm_to_the_owner_closes_the_server() -> None:
    owner, run_dir, pid = _owner_process()
    assert is_same_process(pid, None)
    owner.terminate()
    assert owner.wait(timeout=60) == 128 + signal.SIGTERM
    assert not run_dir.exists()
    assert not is_same_process(pid, None)


def test_a_crashed_run_leaves_a_server_that_the_next_start_ends() -> None:
    crashed, run_dir, pid = _owner_process()
    crashed.kill()  # no atexit, no fixture: what a killed test run leaves
    crashed.wait()
    assert run_dir.is_dir()
    assert is_same_process(pid, None), "pg_ctl detaches the postmaster: it outlives its owner"
    with PostgresServer():
        pass  # its start swept the stale directory (another test run's start may have too)
    assert not run_dir.exists()
    assert not is_same_process(pid, None)


def test_missing_binaries_say_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (postgres_binaries() / "initdb").is_file()
    monkeypatch.setenv("KUBEOPS_POSTGRES_BIN", str(tmp_path))
    with pytest.raises(PostgresError, match=r"initdb.*make postgres.*apt-get install postgresql"):
        postgres_binaries()
    with pytest.raises(PostgresError, match="make postgres"):
        PostgresServer().start()


def test_libpq_environment_does_not_reach_the_server_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tests of the code under test set PG* variables; the server's own tools ignore them.
    for name, value in {
        "PGHOST": "192.0.2.1",
        "PGPORT": "1",
        "PGUSER": "nobody",
        "PGDATABASE": "nowhere",
    }.items():
        monkeypatch.setenv(name, value)
    with PostgresServer() as server:
        assert server.psql("SELECT current_user").strip() == "postgres"
    assert os.environ["PGHOST"] == "192.0.2.1"


def test_plugin_fixtures_give_a_server_and_a_fresh_database_per_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import psycopg

        seen = []

        def test_one(postgres, postgres_url):
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute("CREATE TABLE mine (n int)")
            seen.append(postgres_url.rsplit("/", 1)[1])

        def test_two(postgres, postgres_url):
            name = postgres_url.rsplit("/", 1)[1]
            assert name != seen[0] and name.startswith("t_test_two_")
            databases = postgres.psql("SELECT datname FROM pg_database").split()
            assert name in databases and seen[0] not in databases
            with psycopg.connect(postgres_url) as conn:
                assert conn.execute("SELECT to_regclass('public.mine')").fetchone() == (None,)

        def test_three_stops_it(postgres, postgres_url):
            postgres.stop()  # the next test's database comes from the same server, started again

        def test_four(postgres, postgres_url):
            with psycopg.connect(postgres_url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*kubeops testenv? postgres ready on 127.0.0.1:*"])
    assert result.stdout.str().count("postgres ready on") == 1
