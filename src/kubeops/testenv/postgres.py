"""A throwaway PostgreSQL server for tests: Debian's binaries, 127.0.0.1, a temporary directory.

``with PostgresServer() as pg: ... pg.url ...`` runs ``initdb`` and ``pg_ctl start``
as an unprivileged user (the ``postgres`` system user when we are root, which
PostgreSQL refuses to run as; otherwise the current user), with the data
directory and the unix socket inside a temporary directory that is removed when
the server is closed.  The server listens on 127.0.0.1 only, on a free port;
TCP logins need a password (SCRAM), the socket -- reachable only by that user
and root -- trusts its peers and is how the server is administered.  Settings
favour speed over durability (``fsync=off``): a crash of the machine may lose
the data, which a test server never keeps anyway.

Leftovers are prevented like :class:`~kubeops.testenv.Environment` prevents
them: :meth:`PostgresServer.close` (stop, then remove the directory) is
idempotent and also runs at interpreter exit and on SIGTERM, and the directory
is a testenv run directory (an owner and a ledger of the postmaster), so a
server left by a crashed run is ended and its directory removed the next time
a server or an environment starts.

Passwords never appear in progress lines, errors or ``repr``: :attr:`PostgresServer.url`
is the only place that holds one.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from kubeops.config.files import write_private
from kubeops.testenv import rundir
from kubeops.testenv.errors import ComponentFailed, ControlPlaneError
from kubeops.testenv.exit_hooks import LiveSet
from kubeops.testenv.ports import HOST, ensure_free, free_port
from kubeops.testenv.process import (
    LedgerEntry,
    _ledger_lock,
    _write_ledger,
    is_same_process,
    kill_group,
    process_uid,
    read_ledger,
    start_time,
)

Progress = Callable[[str], None]

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
USER = "kubeops"
DATABASE = "kubeops"
SEARCH_ROOT = Path("/usr/lib/postgresql")
BIN_ENV = "KUBEOPS_POSTGRES_BIN"
NEEDED = ("initdb", "pg_ctl", "postgres", "psql")
INSTALL_HINT = (
    "install them with `make postgres` (on Debian/Ubuntu: "
    "`apt-get install postgresql`), or point KUBEOPS_POSTGRES_BIN at their directory"
)
# Fast rather than durable: a test server's data never outlives the test run.
SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "max_wal_size": "256MB",
    "checkpoint_timeout": "30min",
    "password_encryption": "scram-sha-256",
    "log_min_error_statement": "panic",  # a failed statement is never logged with its text
}
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PORT_TAKEN = "Address already in use"


class PostgresError(ControlPlaneError):
    """PostgreSQL's binaries are missing, or the test server could not be set up."""


def postgres_binaries() -> Path:
    """The directory holding Debian's PostgreSQL server binaries (the newest version).

    ``KUBEOPS_POSTGRES_BIN`` overrides the search; otherwise
    ``/usr/lib/postgresql/<version>/bin`` is tried, then the directory of ``pg_ctl``
    on ``PATH``.  Raises :class:`PostgresError` saying how to install them.
    """
    override = os.environ.get(BIN_ENV)
    if override:
        directory = Path(override)
        missing = [name for name in NEEDED if not (directory / name).is_file()]
        if missing:
            raise PostgresError(
                f"{BIN_ENV}={override} lacks PostgreSQL's {', '.join(missing)}; {INSTALL_HINT}"
            )
        return directory
    candidates: list[tuple[tuple[int, ...], Path]] = []
    if SEARCH_ROOT.is_dir():
        for version_dir in SEARCH_ROOT.iterdir():
            digits = re.findall(r"\d+", version_dir.name)
            if digits:
                candidates.append((tuple(int(d) for d in digits), version_dir / "bin"))
    ordered = [path for _, path in sorted(candidates, reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        ordered.append(Path(on_path).resolve().parent)
    for directory in ordered:
        if all((directory / name).is_file() for name in NEEDED):
            return directory
    raise PostgresError(
        f"PostgreSQL's server binaries ({', '.join(NEEDED)}) were not found in "
        f"{SEARCH_ROOT}/*/bin or on PATH; {INSTALL_HINT}"
    )


_live: LiveSet[PostgresServer] = LiveSet(lambda server: server.close())


def _child_env() -> dict[str, str]:
    """Our environment without libpq's PG* variables (a test may set them for the
    code under test; the server's own tools must not follow them)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1; also a context manager.

    ``directory`` puts the server's files there (data, socket, log) and keeps them
    after :meth:`close` for a look (``keep`` overrides); it must be empty, new, or
    one a previous server used, whose files the next start replaces.  Otherwise a
    temporary directory is used and removed on close.  ``port`` fixes the TCP port
    (default: a free one, kept across :meth:`stop`/:meth:`start` and :meth:`restart`).

    :meth:`stop` and :meth:`start` take the same server down and back up (an
    outage: connections drop, data stays); :meth:`close` stops it and removes its
    directory, after which :meth:`start` begins with a fresh, empty server.

    Once started, :attr:`url` reaches the database ``kubeops`` as the role
    ``kubeops`` (its owner, not a superuser) with a random password;
    :meth:`create_database` makes more databases for that role.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        port: int | None = None,
        keep: bool | None = None,
        start_timeout: float = 60.0,
        progress: Progress | None = None,
    ) -> None:
        self.host = HOST
        self.port: int = port or 0
        self.user = USER
        self.database = DATABASE
        self.password = secrets.token_urlsafe(24)
        self.start_timeout = start_timeout
        self.progress: Progress = progress or (lambda _: None)
        self._fixed_port = port is not None
        self._given = directory.resolve() if directory is not None else None
        self._keep = keep if keep is not None else directory is not None
        self._superuser_password = secrets.token_urlsafe(24)
        self.run_dir: Path | None = None
        self._bin: Path | None = None
        self._running = False
        self._lock = threading.RLock()
        self._ids: tuple[int, int] | None = None
        self._ids_known = False

    # -- public surface -------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"PostgresServer({self.masked_url}, {state})"

    @property
    def url(self) -> str:
        """``postgresql://kubeops:<password>@127.0.0.1:<port>/kubeops`` -- holds the password."""
        return self.database_url(self.database)

    @property
    def masked_url(self) -> str:
        """:attr:`url` with the password replaced by ``***``, for printing."""
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        """Whether the server was started and not stopped since."""
        return self._running

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (inside the run directory)."""
        return self._require_dir() / "data"

    @property
    def log_file(self) -> Path:
        """The server's log (what it prints: start, stop, errors -- never statements)."""
        return self._require_dir() / "postgres.log"

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server, as the ``kubeops`` role."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{name}"

    def start(self) -> None:
        """Start the server; a no-op when running.

        The first start creates the cluster (``initdb``) and the role and database
        ``kubeops``; a start after :meth:`stop` brings the same server back (same
        port, password and data); a start after :meth:`close` begins afresh."""
        with self._lock:
            if self._running:
                return
            started = time.monotonic()
            self._bin = postgres_binaries()
            if self.run_dir is not None and (self.data_dir / "PG_VERSION").exists():
                self._start_server(first=False)
                self.progress(
                    f"postgres started again on {self.host}:{self.port} "
                    f"in {time.monotonic() - started:.1f}s"
                )
                return
            for stale, killed in rundir.sweep(rundir.default_base()):
                self.progress(f"cleaned {stale} left by a crashed run ({killed} process(es) ended)")
            _live.add(self)
            try:
                self._prepare_dir()
                self._initdb()
                self._start_server(first=True)
                self._provision()
            except BaseException:
                self.close()
                raise
            self.progress(
                f"postgres ready on {self.host}:{self.port} ({self._version()}) "
                f"in {time.monotonic() - started:.1f}s"
            )

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``): every connection drops; its data,
        port and password stay for a later :meth:`start` (a database outage).

        Idempotent; ends only the postmaster this server started (and its backends).
        :meth:`close` also removes the directory."""
        with self._lock:
            if self.run_dir is not None and self.data_dir.exists():
                self._stop_server()
            self._running = False

    def close(self) -> None:
        """Stop the server and remove its directory (unless kept); idempotent.

        The context manager, the pytest fixture and interpreter exit call this."""
        with self._lock:
            self.stop()
            if self.run_dir is not None and self in _live:
                rundir.release(self.run_dir, remove=not self._keep)
            self.run_dir = None
            _live.discard(self)

    def restart(self) -> None:
        """Stop and start the server on the same port and data: every open
        connection is dropped, committed data stays."""
        with self._lock:
            if not self._running:
                raise PostgresError("the PostgreSQL test server is not running; start it first")
            started = time.monotonic()
            self._stop_server()
            self._start_server(first=False)
            self.progress(
                f"postgres restarted on {self.host}:{self.port} "
                f"in {time.monotonic() - started:.1f}s"
            )

    def create_database(self, name: str) -> str:
        """Create database ``name`` owned by ``kubeops``; return its URL.

        ``name`` is lower-case letters, digits and underscores (at most 63)."""
        self._check_name(name)
        self.psql(f'CREATE DATABASE "{name}" OWNER "{self.user}";')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending the connections still open to it."""
        self._check_name(name)
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the server's unix socket; return psql's
        unaligned, tuples-only output.  For test setup and faults (e.g. ending sessions)."""
        if not self._running:
            raise PostgresError("the PostgreSQL test server is not running; start it first")
        args = [
            str(self._binary("psql")),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self._require_dir()),
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-f",
            "-",
        ]
        done = self._run(args, input_text=sql)
        if done.returncode != 0:
            raise PostgresError(f"psql failed: {self._redact(done.stderr.strip())}")
        return done.stdout

    def pids(self) -> list[int]:
        """The postmaster's pid while running (its backends are its children)."""
        pid = self._postmaster_pid()
        return [pid] if pid is not None and self._running else []

    # -- internals ---------------------------------------------------------------------

    def _require_dir(self) -> Path:
        if self.run_dir is None:
            raise PostgresError("the PostgreSQL test server has no directory; start it first")
        return self.run_dir

    def _binary(self, name: str) -> Path:
        if self._bin is None:
            self._bin = postgres_binaries()
        return self._bin / name

    def _version(self) -> str:
        return f"PostgreSQL {self._binary('postgres').parent.parent.name}"

    def _check_name(self, name: str) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"database name {name!r}: use lower-case letters, digits and underscores "
                "(starting with a letter or underscore, at most 63)"
            )

    def _redact(self, text: str) -> str:
        for secret in (self.password, self._superuser_password):
            text = text.replace(secret, "***")
        return text

    def _owner_ids(self) -> tuple[int, int] | None:
        """The uid and gid to run as: the ``postgres`` system user when we are root
        (created if absent), else None (the current user)."""
        if self._ids_known:
            return self._ids
        if os.geteuid() != 0:
            self._ids_known = True
            return None
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            done = subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", SYSTEM_USER],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise PostgresError(
                    f"cannot create the system user {SYSTEM_USER!r} to run PostgreSQL as "
                    f"(it refuses to run as root): {done.stderr.strip()}"
                ) from None
            entry = pwd.getpwnam(SYSTEM_USER)
        self._ids = (entry.pw_uid, entry.pw_gid)
        self._ids_known = True
        return self._ids

    def _give(self, path: Path) -> None:
        ids = self._owner_ids()
        if ids is not None:
            os.chown(path, *ids)

    def _run(
        self, args: Sequence[str], *, input_text: str | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", SYSTEM_USER, "--"] if self._owner_ids() is not None else []
        return subprocess.run(
            [*prefix, *args],
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self._require_dir(),
            env=_child_env(),
            timeout=timeout or self.start_timeout,
            check=False,
        )

    def _prepare_dir(self) -> None:
        if self._given is not None:
            run_dir = self._given
            if run_dir.exists() and any(run_dir.iterdir()):
                ours = (run_dir / rundir.OWNER).exists() or (run_dir / "data").is_dir()
                if not ours:
                    raise PostgresError(
                        f"{run_dir} is not empty and not a PostgreSQL test server's "
                        "directory; give an empty or new one"
                    )
        else:
            base = rundir.default_base()
            ids = self._owner_ids()
            if ids is not None:  # the postgres user must enter the private base
                rundir.allow_group_traverse(base, ids[1])
            run_dir = Path(tempfile.mkdtemp(prefix="postgres-", dir=base))
        rundir.claim(run_dir)  # also ends what a crashed run left in a kept directory
        self.run_dir = run_dir
        run_dir.chmod(0o700)
        self._give(run_dir)

    def _initdb(self) -> None:
        started = time.monotonic()
        run_dir = self._require_dir()
        pwfile = run_dir / ".superuser-password"
        write_private(pwfile, self._superuser_password + "\n")
        self._give(pwfile)
        try:
            done = self._run(
                [
                    str(self._binary("initdb")),
                    "--pgdata",
                    str(self.data_dir),
                    f"--username={SUPERUSER}",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                timeout=max(self.start_timeout, 120.0),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            output = self._redact((done.stdout + done.stderr).strip())
            hint = (
                f" (the {SYSTEM_USER!r} user must be able to reach {run_dir})"
                if self._owner_ids() is not None
                else ""
            )
            raise ComponentFailed("initdb", None, f"failed{hint}", output.splitlines()[-20:])
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as out:
            out.write("\n# kubeops testenv: port, socket and speed settings\n")
            out.write("include_if_exists = 'kubeops.conf'\n")
        self.progress(f"postgres: initdb ({self._version()}) in {time.monotonic() - started:.1f}s")

    def _write_settings(self) -> None:
        settings = {
            **SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": str(self._require_dir()),
        }
        path = self.data_dir / "kubeops.conf"
        path.write_text("".join(f"{k} = {_quote_setting(v)}\n" for k, v in settings.items()))
        self._give(path)

    def _start_server(self, *, first: bool) -> None:
        attempts = 3 if first and not self._fixed_port else 1
        for attempt in range(1, attempts + 1):
            if first and not self._fixed_port:
                self.port = free_port()
            elif first:
                ensure_free(self.port, "PostgreSQL")
            self._write_settings()
            log_size = self.log_file.stat().st_size if self.log_file.exists() else 0
            done = self._run(
                [
                    str(self._binary("pg_ctl")),
                    "start",
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    str(int(self.start_timeout)),
                    "--silent",
                ],
                timeout=self.start_timeout + 30,
            )
            if done.returncode == 0:
                self._running = True
                self._record_postmaster()
                return
            tail = self._log_tail(since=log_size)
            if attempt < attempts and any(_PORT_TAKEN in line for line in tail):
                continue
            self._stop_server()
            output = [*tail, *self._redact((done.stdout + done.stderr).strip()).splitlines()]
            raise ComponentFailed(
                "postgres", None, f"did not start on {self.host}:{self.port}", output[-20:]
            )

    def _postmaster_pid(self) -> int | None:
        if self.run_dir is None:
            return None
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def _record_postmaster(self) -> None:
        """Note the postmaster in the run directory's ledger: pg_ctl detaches it into
        its own session, so a crashed run's sweep can end it and its backends."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        run_dir = self._require_dir()
        ids = self._owner_ids()
        uid = ids[0] if ids is not None else os.geteuid()
        if process_uid(pid) != uid:
            return  # postmaster.pid names a process that is not the server's: never record it
        with _ledger_lock:
            entries = [e for e in read_ledger(run_dir) if e.name != "postgres"]
            entries.append(LedgerEntry("postgres", pid, start_time(pid), uid))
            _write_ledger(run_dir, entries)

    def _forget_postmaster(self) -> None:
        run_dir = self._require_dir()
        with _ledger_lock:
            _write_ledger(run_dir, [e for e in read_ledger(run_dir) if e.name != "postgres"])

    def _stop_server(self) -> None:
        """``pg_ctl stop -m fast``; if that fails, end the recorded postmaster's group."""
        run_dir = self._require_dir()
        self._running = False
        recorded = [e for e in read_ledger(run_dir) if e.name == "postgres"]
        if (self.data_dir / "postmaster.pid").exists():
            done = self._run(
                [
                    str(self._binary("pg_ctl")),
                    "stop",
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "--timeout",
                    str(int(self.start_timeout)),
                    "--silent",
                ],
                timeout=self.start_timeout + 30,
            )
            if done.returncode != 0:
                for entry in recorded:
                    kill_group(entry.pid, entry.started, entry.uid)
        for entry in recorded:  # normally gone already: pg_ctl waited for it
            if is_same_process(entry.pid, entry.started):
                kill_group(entry.pid, entry.started, entry.uid)
        self._forget_postmaster()

    def _provision(self) -> None:
        # Statements carrying a password are never logged (log_min_error_statement is
        # panic server-wide) and psql's errors pass through _redact.
        self.psql(
            f"""
            CREATE ROLE "{self.user}" LOGIN PASSWORD '{self.password}';
            CREATE DATABASE "{self.database}" OWNER "{self.user}";
            """
        )

    def _log_tail(self, since: int = 0, lines: int = 20) -> list[str]:
        try:
            with self.log_file.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [self._redact(line) for line in text.splitlines() if line.strip()][-lines:]
