"""``kubeops policy``: one policy set run in CI, before apply, at admission and on what
already runs; in CEL (ValidatingAdmissionPolicy), Rego (conftest, Gatekeeper) or
from the built-in library.

::

    kubeops policy test -f k8s/ --policies policy/            # CI: findings with file:line
    kubeops policy test -f k8s/ --scan trivy.json -o sarif    # built-ins + the CVSS gate
    kubeops policy export --policies policy/ | kubectl apply -f -   # CEL, enforced natively
    kubeops policy audit --policies policy/ -A -o json        # what already runs
    kubeops policy audit --policies policy/ --serve --interval 5m  # as Prometheus metrics
    kubeops policy webhook --policies policy/ --register      # the admission webhook

Exit codes (``test`` and ``audit``): 0 nothing at or above ``--fail-on`` (default:
nothing denied); 1 the command could not run -- bad input, a policy that cannot be
loaded (each problem on its own line, ``FILE:LINE: policy NAME: cause``), no cluster;
2 a policy denied something (conftest exits 1 for both failures and errors; kubeops
keeps them apart, as ``kubeops inspect --fail-on`` does).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kubeops.cli.connection import add_connection_flags, complete

if TYPE_CHECKING:
    from kubeops.policy.findings import Results
    from kubeops.policy.loader import PolicySet
    from kubeops.policy.model import PolicyLoadError
    from kubeops.policy.verdict import Verdict

DENIED = 2
"""Exit code when a policy denied something (``--fail-on``)."""
REPORTS = ("table", "json", "junit", "sarif", "html")
FAIL_ON = ("deny", "warn", "any", "never")
PROGRESS_FROM = 500
"""``policy test`` reports progress on stderr from this many objects."""
EXIT_CODES = (
    "exit codes: 0 no violation at or above --fail-on; 1 the command could not run "
    "(bad input, a policy that cannot be loaded, no cluster); 2 a policy denied something "
    "(--fail-on deny, the default), or warned (warn), or recorded anything (any)"
)


def register(groups: Any) -> None:
    """Add ``kubeops policy`` and its commands to the command groups."""
    parser = groups.add_parser(
        "policy",
        help="policy as code: test manifests, export, audit the cluster, admission webhook",
        description="One policy set -- ValidatingAdmissionPolicy (CEL), Rego (conftest, "
        "Gatekeeper) or the built-in library -- run in CI, before apply, at admission and "
        "on what already runs. Policy load problems are printed one per line "
        "(FILE:LINE: policy NAME: cause) and the command exits 1.",
        epilog=EXIT_CODES,
    )
    commands = parser.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    _test(commands)
    _export(commands)
    _audit(commands)
    _webhook(commands)


# --- flags -------------------------------------------------------------------------------------


def add_policies_flag(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--policies PATH`` (repeatable): policy files or directories."""
    parser.add_argument(
        "--policies",
        action="extend",
        nargs="+",
        required=required,
        default=[],
        metavar="PATH",
        help="policy files or directories: .rego, ValidatingAdmissionPolicy + bindings, "
        "Gatekeeper ConstraintTemplates + constraints, PolicyLibrary settings, and the "
        "objects they look up (params, Namespaces, quotas) (repeatable)",
    )


def _builtins_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scan",
        action="append",
        default=[],
        metavar="FILE",
        help="a Trivy or Grype JSON report: the built-in vulnerability gate judges the "
        "images it scanned (repeatable)",
    )
    add_builtins_flag(parser)


def add_builtins_flag(parser: argparse.ArgumentParser) -> None:
    """``--no-builtins``, as ``kubeops policy webhook`` has it."""
    parser.add_argument(
        "--no-builtins",
        action="store_true",
        help="without a PolicyLibrary document, run no built-in policy (default: the "
        "built-in library's defaults run besides --policies, as at admission)",
    )


def _report_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=REPORTS,
        default="table",
        metavar="FORMAT",
        help="table (default), json, junit, sarif or html: the kubeops inspect report "
        "formats, one finding per violation",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="write the -o report to FILE (created 0600) and print the table as well, "
        "so one run gives CI its report and its log",
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="deny",
        help="exit 2 when a violation denies (deny, the default), denies or warns (warn), "
        "is found at all (any, Audit-only ones too) -- or never",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _test(commands: Any) -> None:
    test = commands.add_parser(
        "test",
        help="judge manifests before they are applied (CI): findings with file and line",
        description="Judge manifests with the policies, as the API server would judge "
        "their creation: every finding with its file and line. The built-in library runs "
        "with its defaults unless --no-builtins or a PolicyLibrary document in --policies "
        "configures it.",
        epilog=EXIT_CODES,
    )
    test.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="PATH",
        help="manifests: a file, a directory or - for stdin (repeatable)",
    )
    add_policies_flag(test)
    _builtins_flags(test)
    _report_flags(test)
    add_connection_flags(
        test, namespace="the namespace of manifests that name none (default: default)"
    )
    test.set_defaults(handler=policy_errors(_run_test))


def _export(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="print the CEL policies as ValidatingAdmissionPolicy objects for kubectl apply",
        description="The ValidatingAdmissionPolicy and binding objects of --policies, ready "
        "for `kubectl apply -f -`: the API server then enforces them with no webhook.",
    )
    add_policies_flag(export, required=True)
    export.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    add_connection_flags(export)
    export.set_defaults(handler=policy_errors(_run_export))


def _audit(commands: Any) -> None:
    from kubeops.cli.inspect_serve import add_serving_flags

    audit = commands.add_parser(
        "audit",
        help="report which live objects violate which policy (Gatekeeper's audit)",
        description="Read the cluster and judge each live object with the policies, "
        "reviewed as an UPDATE of itself as Gatekeeper's audit does. Once, as a report; "
        "or with --serve on an interval, as Prometheus metrics on /metrics "
        "(kubeops_policy_audit_violations{policy,engine,action}).",
        epilog=EXIT_CODES + " (without --serve)",
    )
    add_policies_flag(audit)
    _builtins_flags(audit)
    audit.add_argument(
        "--kinds",
        metavar="KIND,...",
        help="audit only these kinds (pods,deployments.apps,...); default: the kinds the "
        "policies match, or every listable kind when a policy may match any",
    )
    audit.add_argument(
        "--operation",
        choices=("UPDATE", "CREATE"),
        default="UPDATE",
        help="review each object as an UPDATE of itself (default, as Gatekeeper) or a CREATE",
    )
    _report_flags(audit)
    daemon = audit.add_argument_group("on an interval (--serve)")
    daemon.add_argument(
        "--serve",
        action="store_true",
        help="audit on an interval until stopped; serve /metrics, /healthz, /readyz and "
        "/report (the last audit as JSON)",
    )
    daemon.add_argument(
        "--interval", default="5m", metavar="DURATION", help="between audits (default: 5m)"
    )
    daemon.add_argument(
        "--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="default: 127.0.0.1:8080"
    )
    daemon.add_argument(
        "--runs", type=int, metavar="N", help="stop after N audits (default: until stopped)"
    )
    add_serving_flags(audit)
    add_connection_flags(audit, all_namespaces="audit every namespace (the default without -n)")
    audit.set_defaults(handler=policy_errors(_run_audit))


def _webhook(commands: Any) -> None:
    from kubeops.cli import policy_webhook  # the webhook's own module adds its command

    policy_webhook.register(commands)


# --- shared with apply --policies --------------------------------------------------------------


def policy_errors(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Print every policy load problem on its own line (stderr) and exit 1: nothing ran."""

    def command(args: argparse.Namespace) -> int:
        from kubeops.policy.model import PolicyLoadError

        try:
            return handler(args)
        except PolicyLoadError as err:
            print_load_error(err)
            return 1

    return command


def print_load_error(err: PolicyLoadError) -> None:
    """``FILE:LINE: policy NAME: cause`` per problem, then one ``kubeops: error:`` line."""
    from kubeops.cli.cluster import print_problems

    print_problems(err.problems, "the policies; nothing was evaluated")


def load_policy_set(paths: Sequence[str], scans: Sequence[str], builtins: bool) -> PolicySet:
    """The policies under ``paths`` and, with ``builtins``, the built-in library's
    defaults unless a PolicyLibrary document configures it; the scanner reports
    ``scans`` feed its vulnerability gate."""
    from kubeops.errors import KubeopsError
    from kubeops.policy.loader import load_policies

    if not paths and not builtins:
        raise KubeopsError("--no-builtins leaves no policy: give --policies PATH")
    reports = [_load_scan(path) for path in scans]
    return load_policies(paths, scans=reports, builtins_by_default=builtins)


def _load_scan(path: str) -> Any:
    from kubeops.errors import KubeopsError
    from kubeops.policy import scan

    load_scan = getattr(scan, "load_scan", None)
    if load_scan is None:
        raise KubeopsError(f"--scan {path}: scanner reports are not supported in this build yet")
    return load_scan(path)


def review_manifests(
    policies: PolicySet,
    manifests: Sequence[Any],
    *,
    namespace: str,
    cluster: str = "manifests",
    known: Sequence[dict[str, Any]] = (),
    progress: Callable[[str], None] | None = None,
) -> Results:
    """Every manifest reviewed as its creation would be (in ``namespace`` when it names
    none, as the API server puts it there), with the manifests, the policy
    directory's objects and ``known`` ones (the cluster's Namespaces) answering the
    policies' lookups."""
    from kubeops.policy.context import StaticContext
    from kubeops.policy.findings import results_for
    from kubeops.policy.model import Review, Source
    from kubeops.policy.verdict import evaluate

    cluster_scoped = _cluster_scoped_kinds([m.object for m in manifests], policies.objects)
    objects = [_in_namespace(m.object, namespace, cluster_scoped) for m in manifests]
    context = StaticContext([*objects, *policies.objects, *known])
    results = results_for(policies, cluster, mode="static")
    started = last = time.monotonic()
    lines = FieldLines()
    for count, (manifest, obj) in enumerate(zip(manifests, objects, strict=True), start=1):
        review = Review.of_object(
            obj,
            location=Source(manifest.source, manifest.line),
            namespaced=False if _kind_key(obj) in cluster_scoped else None,
        )
        results.add(lines.located(evaluate(policies, review, context), manifest))
        if progress is not None and time.monotonic() - last >= 2:
            last = time.monotonic()
            progress(f"{count}/{len(manifests)} objects judged")
    for violation in _unmatched_scans(policies, objects):
        results.add_unreviewed(violation)
    if progress is not None:
        progress(f"{len(manifests)} objects judged in {time.monotonic() - started:.1f}s")
    return results


_MAP_KEY = re.compile(r"\[((?!\d+\])[^\]]+)\]")
"""A map key in Kubernetes' field-path notation (``data[app.properties]``), not an index."""


class FieldLines:
    """Moves a violation that names a field (``field_path``) to that field's line in its
    manifest's file, read again with lines the first time a file needs it (a manifest
    from stdin keeps its document's line)."""

    def __init__(self) -> None:
        self._files: dict[str, list[dict[str, int]] | None] = {}

    def located(self, verdict: Verdict, manifest: Any) -> Verdict:
        """``verdict`` with each violation at its field's line where that is known."""
        import dataclasses

        from kubeops.policy.model import Source

        if not any(v.field_path for v in verdict.violations):
            return verdict
        moved = []
        for found in verdict.violations:
            line = self.line(manifest, found.field_path) if found.field_path else 0
            at = Source(manifest.source, line)
            moved.append(dataclasses.replace(found, location=at) if line else found)
        return dataclasses.replace(verdict, violations=tuple(moved))

    def line(self, manifest: Any, field_path: str) -> int:
        """The line of ``field_path`` (or of its nearest parent) in ``manifest``; 0 if unknown."""
        documents = self._documents(manifest.source)
        if documents is None or not 0 < manifest.index <= len(documents):
            return 0
        lines = documents[manifest.index - 1]
        prefix = manifest.item.removeprefix(".")
        path = _MAP_KEY.sub(lambda m: "." + m.group(1).strip("'\""), field_path)
        probe = f"{prefix}.{path}" if prefix else path
        while probe:
            if probe in lines:
                return int(lines[probe])
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return 0

    def _documents(self, file: str) -> list[dict[str, int]] | None:
        if file not in self._files:
            self._files[file] = _read_lines(file)
        return self._files[file]


def _read_lines(file: str) -> list[dict[str, int]] | None:
    from kubeops.config import safe_yaml
    from kubeops.config.inputs import MANIFEST_LIMIT, read_bounded

    if file == "<stdin>":
        return None
    try:
        data = read_bounded(file, limit=MANIFEST_LIMIT, what="manifest")
        loaded = safe_yaml.load_all(data, file, lines=True)
    except Exception:  # changed or gone since it was read: keep the document's line
        return None
    # Numbered as load_manifests numbers documents: empty ones count too.
    return [safe_yaml.field_lines(d.value) for d in loaded]


def _unmatched_scans(policies: PolicySet, objects: Sequence[dict[str, Any]]) -> list[Any]:
    """The vulnerability gate's verdicts on scanner reports of images no manifest runs
    (a report given is never silently ignored)."""
    from kubeops.policy.library import unmatched_violations
    from kubeops.policy.library.base import pod_spec

    if not any(p.engine == "builtin" for p in policies.policies):
        return []
    images = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            images += [str(c.get("image") or "") for _, _, c in spec.containers()]
    return unmatched_violations(policies.policies, images)


def _in_namespace(
    obj: dict[str, Any], namespace: str, cluster_scoped: set[tuple[str, str]]
) -> dict[str, Any]:
    from kubeops.policy.model import GroupVersionKind, resource_of

    meta = obj.get("metadata") or {}
    if meta.get("namespace") or _kind_key(obj) in cluster_scoped:
        return obj
    if not resource_of(GroupVersionKind.of(obj))[1]:
        return obj
    return {**obj, "metadata": {**meta, "namespace": namespace}}


def _kind_key(obj: dict[str, Any]) -> tuple[str, str]:
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return group, str(obj.get("kind") or "")


def _cluster_scoped_kinds(*objects: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """(group, kind) of the custom resources the set's CRDs declare cluster-scoped (the
    built-in kinds' scopes are known without them)."""
    found = set()
    for group in objects:
        for obj in group:
            if obj.get("kind") != "CustomResourceDefinition":
                continue
            spec = obj.get("spec") or {}
            if spec.get("scope") == "Cluster":
                kind = str((spec.get("names") or {}).get("kind") or "")
                found.add((str(spec.get("group") or ""), kind))
    return found


# --- handlers ----------------------------------------------------------------------------------


def _run_test(args: argparse.Namespace) -> int:
    from kubeops.api.manifest import ManifestError, load_manifests

    complete(args)
    _check_out(args)
    manifests = load_manifests(args.filename)
    if not manifests:
        raise ManifestError(f"no objects found in {', '.join(args.filename)}")
    policies = load_policy_set(args.policies, args.scan, not args.no_builtins)
    progress = None
    if not args.quiet and len(manifests) >= PROGRESS_FROM:
        progress = _progress
        engines = ", ".join(f"{e} {n}" for e, n in sorted(policies.engines().items()))
        progress(
            f"{_count(len(manifests), 'object')}, {_count(len(policies), 'policy')} ({engines})"
        )
    results = review_manifests(
        policies, manifests, namespace=args.namespace or "default", progress=progress
    )
    write_results(results, args.output, out=args.out)
    return gate(results, args.fail_on)


def _check_out(args: argparse.Namespace) -> None:
    from kubeops.errors import KubeopsError

    if args.out and args.output == "table":
        raise KubeopsError("--out writes a report: give -o json, junit, sarif or html")


def _run_export(args: argparse.Namespace) -> int:
    from kubeops.cli.cluster import print_document
    from kubeops.errors import KubeopsError
    from kubeops.policy import export

    complete(args)
    objects = export.export_policies(args.policies)
    if not objects:
        raise KubeopsError(
            f"no ValidatingAdmissionPolicy in {', '.join(args.policies)}: only CEL policies "
            "can be enforced by the API server itself"
        )
    if args.output == "json":
        print_document({"apiVersion": "v1", "kind": "List", "items": objects}, "json")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True))
    return 0


def _run_audit(args: argparse.Namespace) -> int:
    from kubeops.policy.audit import AuditError, AuditOptions, parse_kinds
    from kubeops.policy.model import Operation

    complete(args)
    if args.all_namespaces and args.namespaces:
        raise AuditError("give -A or -n, not both")
    if args.runs is not None and args.runs < 1:
        raise AuditError(f"--runs {args.runs}: give at least 1")
    _check_out(args)
    policies = load_policy_set(args.policies, args.scan, not args.no_builtins)
    options = AuditOptions(
        policies=policies,
        cluster=args.context or "cluster",
        namespaces=tuple(dict.fromkeys(args.namespaces)) or None,
        kinds=tuple(parse_kinds(args.kinds)) if args.kinds else None,
        operation=Operation(args.operation),
    )
    if args.serve:
        return _serve_audit(args, options)
    return _audit_once(args, options)


def _audit_once(args: argparse.Namespace, options: Any) -> int:
    import asyncio

    from kubeops.api import Client
    from kubeops.config import load_config
    from kubeops.config.redact import printable
    from kubeops.policy.audit import audit

    progress = None if args.quiet else _progress

    async def main() -> Any:
        config = load_config(args.kubeconfig, context=args.context)
        async with Client(config) as client:
            return await audit(client, options, progress)

    done = asyncio.run(main())
    for name, why in sorted(done.unreadable.items()):
        print(f"kubeops: warning: {name} not audited: {printable(why)}", file=sys.stderr)
    write_results(done.results, args.output, document=done.document(), out=args.out)
    return gate(done.results, args.fail_on)


def _serve_audit(args: argparse.Namespace, options: Any) -> int:

    from kubeops.cli.inspect_serve import serving_options
    from kubeops.controller.serving import configure_daemon, parse_listen, run_until_signalled
    from kubeops.models import DurationError, parse_duration
    from kubeops.policy.audit import AuditError, ServeOptions, serve

    try:
        interval = parse_duration(args.interval, positive=True)
    except DurationError as err:
        raise AuditError(f"--interval: {err}") from None
    host, port = parse_listen(args.listen)
    serving = serving_options(args)
    from dataclasses import replace

    settings = ServeOptions(
        audit=options,
        interval=interval,
        kubeconfig=args.kubeconfig,
        context=args.context,
        serving=replace(serving, host=host, port=port),
        auth_kubeconfig=args.auth_kubeconfig,
        auth_context=args.auth_context,
        runs=args.runs,
    )
    configure_daemon(
        args.log_format,
        args.log_level,
        ("kubeops.policy", "kubeops.controller.serving"),
        "kubeops-policy-audit",
    )
    return run_until_signalled(lambda stop: serve(settings, stop))


# --- output ------------------------------------------------------------------------------------


def write_results(
    results: Results,
    output: str,
    document: dict[str, Any] | None = None,
    out: str | None = None,
) -> None:
    """The results as a table (one row per violation, then the counts) or a report; with
    ``out`` the report goes to that file (0600) and the table to stdout."""
    from kubeops.config.redact import printable
    from kubeops.policy.findings import document_of

    if output == "table" or out:
        print_violations(results)
    if output == "table":
        return
    text = render_report(document or document_of(results), output)
    if out:
        _write_report(out, text, output)
        return
    if sys.stdout.isatty():
        text = printable(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _write_report(out: str, text: str, output: str) -> None:
    from kubeops.config.files import write_private
    from kubeops.errors import KubeopsError

    try:
        path = write_private(out, text.encode("utf-8"))
    except OSError as err:
        raise KubeopsError(f"cannot write the {output} report to {out}: {err.strerror}") from None
    print(f"{output} report: {path}", file=sys.stderr)


def render_report(document: dict[str, Any], output: str) -> str:
    """The document in an inspect report format, named as kubeops policy's."""
    from kubeops.inspect.report import render

    if output == "sarif":
        import orjson

        from kubeops.inspect.report.sarif import sarif

        log = sarif(document)
        run = log["runs"][0]
        run["tool"]["driver"]["name"] = "kubeops policy"
        run["automationDetails"]["id"] = f"kubeops-policy/{document.get('generated', '')}"
        return orjson.dumps(log, option=orjson.OPT_INDENT_2).decode() + "\n"
    text = render(document, output)
    if output == "junit":
        text = text.replace(
            '<testsuites name="kubeops inspect"', '<testsuites name="kubeops policy"', 1
        )
    return text


def print_violations(results: Results, *, file: Any = None) -> None:
    """One row per violation (where, object, policy, action, message) and a count line."""
    from kubeops.cli.cluster import print_columns
    from kubeops.policy.findings import actions_of

    out = file or sys.stdout
    static = results.mode == "static"
    rows = [["LOCATION", "OBJECT", "POLICY", "ACTION", "MESSAGE"]]
    if not static:
        rows[0] = rows[0][1:]
    for violation, review in results.violations:
        where = violation.location or review.location
        row = [
            str(where) if where else "",
            _object_name(review),
            violation.policy,
            ",".join(actions_of(violation)),
            " ".join(violation.message.split()),
        ]
        rows.append(row if static else row[1:])
    if len(rows) > 1:
        if out is sys.stdout:
            print_columns(rows)
        else:
            _columns_to(rows, out)
    print(summary_line(results), file=out)


def _columns_to(rows: list[list[str]], out: Any) -> None:
    from kubeops.config.redact import printable

    cells = [[printable(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _object_name(review: Any) -> str:
    where = f"{review.namespace}/" if review.namespace else ""
    return f"{review.kind.kind}/{where}{review.name or '(generated)'}"


def summary_line(results: Results) -> str:
    """``12 objects, 4 policies: 2 denied (1 object), 1 warning`` -- or ``no violations``."""
    summary = results.summary()
    head = f"{_count(summary['objects'], 'object')}, {_count(summary['policies'], 'policy')}: "
    parts = []
    if summary["denied"]:
        parts.append(f"{summary['denied']} denied ({_count(summary['deniedObjects'], 'object')})")
    if summary["warnings"]:
        parts.append(_count(summary["warnings"], "warning"))
    if summary["audits"]:
        parts.append(f"{summary['audits']} audited")
    if summary["ignoredErrors"]:
        parts.append(f"{summary['ignoredErrors']} ignored evaluation error(s)")
    return head + (", ".join(parts) if parts else "no violations")


def _count(n: int, noun: str) -> str:
    plural = "policies" if noun == "policy" else f"{noun}s"
    return f"{n} {noun if n == 1 else plural}"


def gate(results: Results, fail_on: str) -> int:
    """The exit code ``--fail-on`` gives these results (0 or :data:`DENIED`)."""
    from kubeops.policy.model import Action

    violations = [v for v, _ in results.violations]
    failing = {
        "deny": [v for v in violations if v.denies],
        "warn": [v for v in violations if v.denies or Action.WARN in v.actions],
        "any": violations,
        "never": [],
    }[fail_on]
    return DENIED if failing else 0


def _progress(line: str) -> None:
    from kubeops.config.redact import printable

    print(f"  {printable(line)}", file=sys.stderr, flush=True)


__all__ = [
    "DENIED",
    "add_policies_flag",
    "gate",
    "load_policy_set",
    "policy_errors",
    "print_load_error",
    "print_violations",
    "register",
    "review_manifests",
    "summary_line",
    "write_results",
]
