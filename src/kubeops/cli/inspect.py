"""``kubeops inspect``: health checks over clusters or manifests, as reports.

::

    kubeops inspect                                   # the current context, every namespace
    kubeops --context prod inspect -o json            # the report as JSON on stdout
    kubeops inspect --context prod --context staging -o html --out report.html
    kubeops inspect -n shop --fail-on error           # exit 2 when an error-level finding exists
    kubeops inspect -f k8s/ -o sarif --out kubeops.sarif   # manifests, before deploy
    kubeops inspect --output-dir reports/ -o html -o json -o junit
    kubeops inspect --list-checks
    kubeops inspect serve --interval 10m              # scheduled, with history and metrics

Exit codes: 0 the inspection ran and passed its gates; 1 it could not run (bad
configuration, no cluster reachable); 2 a gate failed (``--fail-on``, ``--min-score``).
"""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.cli import inspect_serve
from kubeops.cli.connection import add_connection_flags, complete
from kubeops.cli.inspect_serve import CONNECTION_HELP
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from collections.abc import Callable

    from kubeops.inspect.document import Document
    from kubeops.inspect.model import Report

EXTENSIONS = {"json": "json", "html": "html", "markdown": "md", "junit": "xml", "sarif": "sarif"}
GATE_FAILED = 2


def register(groups: Any) -> None:
    """Add ``kubeops inspect`` (and ``inspect serve``) to the command groups."""
    parser = groups.add_parser(
        "inspect",
        help="check clusters (or manifests) for health, security and configuration problems",
        description="Health checks over clusters or manifests, as reports.",
    )
    add_connection_flags(parser, **CONNECTION_HELP)
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        help="inspect manifests instead of a cluster: a file, a directory or - (repeatable)",
    )
    parser.add_argument("--config", help="YAML file with thresholds, severities and excludes")
    parser.add_argument(
        "--checks", help="run only these checks (comma-separated IDs or globs, e.g. 'sec-*')"
    )
    parser.add_argument(
        "-o",
        "--output",
        "--format",
        dest="format",
        action="append",
        default=[],
        choices=["terminal", *EXTENSIONS],
        metavar="FORMAT",
        help="report format: terminal, json, html, markdown, junit or sarif "
        "(repeatable with --output-dir; default: terminal)",
    )
    parser.add_argument("--out", help="write the report to this file (one -o FORMAT)")
    parser.add_argument("--output-dir", help="write one report per -o FORMAT into this directory")
    parser.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        help="exit 2 when a finding at or above this severity exists (info, warning, error, critical)",
    )
    parser.add_argument(
        "--min-score", type=int, metavar="N", help="exit 2 when the overall score is below N"
    )
    parser.add_argument(
        "--history",
        metavar="URL",
        help="record this run in a history database (sqlite:///inspect.db, "
        "postgresql://user:password@host/db, or postgresql:// with the PG* variables) "
        "and chart the trend",
    )
    parser.add_argument(
        "--history-url-file",
        metavar="PATH",
        help="the history database's URL, read from this file (e.g. a mounted Secret)",
    )
    parser.add_argument("--list-checks", action="store_true", help="list every check and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=_inspect)
    commands = parser.add_subparsers(dest="inspect_command", metavar="COMMAND")
    inspect_serve.register(commands)


def _inspect(args: argparse.Namespace) -> int:
    import asyncio

    from kubeops.inspect import config as inspect_config
    from kubeops.inspect.model import Severity

    complete(args)
    if args.list_checks:
        return _list_checks()
    formats = args.format or ["terminal"]
    _check_outputs(args, formats)
    history_url = history_flags(args)
    fail_on = None
    if args.fail_on:
        try:
            fail_on = Severity.parse(args.fail_on)
        except ValueError as err:
            raise inspect_config.InspectConfigError(f"--fail-on: {err}") from None
    if args.min_score is not None and not 0 <= args.min_score <= 100:
        raise inspect_config.InspectConfigError(
            f"--min-score {args.min_score}: give a score from 0 to 100"
        )
    settings = inspect_config.load_inspect_config(args.config)
    if args.checks is not None:
        from dataclasses import replace

        settings = replace(settings, only=inspect_config.parse_only(args.checks))
    progress = None if args.quiet else _progress
    report, document = asyncio.run(_inspect_and_record(args, settings, progress, history_url))
    _write(document, formats, args)
    if report.clusters and not any(c.reachable for c in report.clusters):
        errors = "; ".join(f"{c.name}: {c.error}" for c in report.clusters)
        print(
            f"kubeops: error: no cluster could be inspected ({printable(errors)})",
            file=sys.stderr,
        )
        return 1
    return _gate(document, fail_on, args.min_score)


def history_flags(args: argparse.Namespace) -> str | None:
    """The history database's URL from ``--history`` or ``--history-url-file`` (read
    now, so a missing file fails before anything runs); None when neither is given."""
    from kubeops.errors import KubeopsError
    from kubeops.inspect.history import read_url_file

    url = getattr(args, "history", None)
    url_file = getattr(args, "history_url_file", None)
    if url and url_file:
        raise KubeopsError("give --history or --history-url-file, not both")
    return read_url_file(url_file) if url_file else url


async def _inspect_and_record(
    args: argparse.Namespace,
    settings: Any,
    progress: Callable[[str], None] | None,
    history_url: str | None,
) -> tuple[Report, Document]:
    """Inspect the manifests or the clusters, and record the run when asked.

    The history is opened first, so a database that cannot be reached or read
    fails the command before a long inspection runs, not after.
    """
    from kubeops.inspect.document import build_document
    from kubeops.inspect.history import History, attach_history
    from kubeops.inspect.runner import inspect_clusters, inspect_manifests, resolve_targets

    history = None if history_url is None else await History.open(history_url)
    try:
        if args.filename:
            from kubeops.api.manifest import load_manifests

            locations: dict[int, tuple[str, int]] = {}
            objects: list[dict[str, Any]] = []
            for manifest in load_manifests(args.filename):  # lists come unpacked
                objects.append(manifest.object)
                locations[id(manifest.object)] = (manifest.source, manifest.line)
            if progress is not None:
                progress(f"manifests: {len(objects)} objects from {', '.join(args.filename)}")
            report = inspect_manifests(objects, settings, locations)
        else:
            found = resolve_targets(args.kubeconfig, args.contexts)
            namespaces = None if args.all_namespaces else args.namespaces or None
            report = await inspect_clusters(found, settings, namespaces, progress)
        document = build_document(report)
        if history is not None:
            await attach_history(document, history)
    finally:
        if history is not None:
            await history.close()
    return report, document


def _check_outputs(args: argparse.Namespace, formats: list[str]) -> None:
    from kubeops.inspect.config import InspectConfigError

    if args.out and args.output_dir:
        raise InspectConfigError("give --out or --output-dir, not both")
    files = [f for f in formats if f != "terminal"]
    if args.out and len(files) != 1:
        raise InspectConfigError("--out writes one report: give exactly one -o other than terminal")
    if not args.out and not args.output_dir and len(files) > 1:
        raise InspectConfigError("several formats need --output-dir (or one -o with --out)")


def _write(document: Document, formats: list[str], args: argparse.Namespace) -> None:
    from kubeops.inspect.report import print_summary, render

    files = [f for f in formats if f != "terminal"]
    to_stdout = files and not args.out and not args.output_dir
    if "terminal" in formats or not to_stdout:
        print_summary(document)
    for fmt in files:
        text = render(document, fmt)
        if to_stdout:
            if sys.stdout.isatty():  # a file or pipe gets the report as it is
                text = printable(text)
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            continue
        path = (
            Path(args.out)
            if args.out
            else Path(args.output_dir) / f"inspect-report.{EXTENSIONS[fmt]}"
        )
        try:
            _write_report(path, text)
        except OSError as err:
            from kubeops.errors import KubeopsError

            raise KubeopsError(f"cannot write the {fmt} report to {path}: {err.strerror}") from err
        print(f"{fmt} report: {path.resolve()}", file=sys.stderr)


def _write_report(path: Path, text: str) -> None:
    """A report holds cluster data: a file is written 0600 from its first byte (atomically,
    never through a planted symlink); a device or pipe (``--out /dev/stdout``) is written
    as it is."""
    from kubeops.config.files import write_private

    try:
        special = not stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        special = False
    if special:
        with path.open("w", encoding="utf-8") as out:
            out.write(text)
    else:
        write_private(path, text.encode("utf-8"))


def _gate(document: Document, fail_on: Any, min_score: int | None) -> int:
    from kubeops.inspect.model import Severity

    code = 0
    if fail_on is not None:
        worse = [f for f in document["findings"] if Severity.parse(f["severity"]) >= fail_on]
        if worse:
            print(
                f"kubeops: {len(worse)} finding(s) at or above {fail_on} (--fail-on)",
                file=sys.stderr,
            )
            code = GATE_FAILED
    if min_score is not None and (document["score"] or 0) < min_score:
        print(
            f"kubeops: score {document['score']} is below {min_score} (--min-score)",
            file=sys.stderr,
        )
        code = GATE_FAILED
    return code


def _list_checks() -> int:
    from rich.table import Table

    from kubeops.inspect.catalog import catalog
    from kubeops.inspect.report.terminal import stdout_console

    table = Table(title=f"{len(catalog())} checks", show_lines=False)
    for column in ("ID", "category", "severity", "static", "title"):
        table.add_column(column)
    for chk in sorted(catalog().values(), key=lambda c: (c.category, c.id)):
        table.add_row(
            chk.id, chk.category, str(chk.severity), "yes" if chk.static else "", chk.title
        )
    stdout_console().print(table)
    return 0


def _progress(line: str) -> None:
    print(f"  {printable(line)}", file=sys.stderr, flush=True)
