"""``kubeops respond``: rules that watch the cluster and act, safely, with an audit trail.

::

    kubeops respond check --rules rules/                     # validate, for CI (exit 1: problems)
    kubeops respond replay --rules rules/ --events storm.jsonl -o json
    kubeops respond audit --rule scale-web --since 1h --outcome suppressed
    kubeops respond run --rules rules/ --dry-run --leader-elect

Rule problems are printed one per line (``file:line: rule NAME: field: cause``),
every one of them, and the command exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import one_line, print_document, print_problems
from kubeops.cli.connection import add_connection_flags, complete

if TYPE_CHECKING:
    from kubeops.respond.engine import Decision
    from kubeops.respond.rules import RuleSet

OUTPUTS = ("table", "json", "yaml")


def register(groups: Any) -> None:
    """Add ``kubeops respond`` and its commands to the command groups."""
    parser = groups.add_parser(
        "respond",
        help="event-driven automated response: rules that watch the cluster and act",
        description="Rules that watch the cluster and act, safely, with an audit trail. "
        "Rule problems are printed one per line (file:line: rule NAME: field: cause), "
        "every one of them, and the command exits 1.",
    )
    commands = parser.add_subparsers(dest="respond_command", metavar="COMMAND", required=True)
    _check(commands)
    _replay(commands)
    _audit(commands)
    _run(commands)


def _rules_flag(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--rules",
        action="extend",
        nargs="+",
        required=required,
        metavar="PATH",
        help="rule files, directories of *.yaml files or Python modules (repeatable)",
    )


def _common_flags(
    parser: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]
) -> None:
    """``-o``, the connection flags and the handler: the tail every reading command shares."""
    parser.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    add_connection_flags(parser)
    parser.set_defaults(handler=handler)


def _check(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="validate rule files (exit 1 listing every problem), for CI",
        description="Validate rules without a cluster: unknown keys, types, durations, "
        "selectors, CEL, sources, actions and their settings; every problem on its own line.",
    )
    _rules_flag(check)
    _common_flags(check, _rule_errors(_run_check))


def _replay(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="what rules would have done for a recorded stream of events (nothing changed)",
        description="Run recorded events (JSON lines, as `respond run --record` writes "
        "them) through the rules in dry run: every decision, limits included, nothing changed.",
    )
    _rules_flag(replay)
    replay.add_argument(
        "--events", required=True, metavar="FILE", help="the recorded events (- for stdin)"
    )
    replay.add_argument(
        "--plan",
        action="store_true",
        help="plan each action against the current context's cluster (reads only); "
        "default: no cluster is contacted",
    )
    _common_flags(replay, _rule_errors(_run_replay))


def _audit(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="query the audit log: every decision, by rule, object, outcome and time",
        description="Query the decisions `respond run` recorded, newest first.",
    )
    audit.add_argument("--rule", metavar="NAME", help="only this rule's decisions")
    audit.add_argument(
        "--object", metavar="KIND/NAMESPACE/NAME", help="only decisions about this object"
    )
    audit.add_argument(
        "--outcome",
        metavar="OUTCOME",
        help="fired, suppressed, dry-run, succeeded or failed",
    )
    audit.add_argument(
        "--since", metavar="DURATION|TIME", help="newer than this (1h, or an RFC 3339 time)"
    )
    audit.add_argument(
        "--until", metavar="DURATION|TIME", help="older than this (10m ago, or an RFC 3339 time)"
    )
    audit.add_argument("--limit", type=int, default=100, metavar="N", help="at most N (100)")
    audit.add_argument(
        "--audit-url",
        metavar="URL",
        help="sqlite:///PATH or any SQLAlchemy URL "
        "(default: sqlite:///~/.local/share/kubeops/respond-audit.db)",
    )
    _common_flags(audit, _run_audit)


def _run(commands: Any) -> None:
    from kubeops.cli.inspect_serve import add_serving_flags
    from kubeops.respond import daemon

    run = commands.add_parser(
        "run",
        help="the daemon: watch, decide, act (--dry-run, --leader-elect)",
        description="Run the rules against the cluster until stopped: sources, the "
        "event receiver, /metrics, /healthz and /readyz on one port.",
    )
    add_connection_flags(run)
    add_serving_flags(run)
    daemon.add_run_flags(run)
    run.set_defaults(handler=_rule_errors(_run_daemon))


# --- handlers ----------------------------------------------------------------------------------


def _rule_errors(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Print every rule problem on its own line (stderr) and exit 1."""

    def command(args: argparse.Namespace) -> int:
        from kubeops.respond.rules import RuleError

        try:
            return handler(args)
        except RuleError as err:
            print_problems(err.problems, "the rules")
            return 1

    return command


def _load(args: argparse.Namespace) -> RuleSet:
    from kubeops.respond.rules import load_rules

    return load_rules(args.rules)


def _run_check(args: argparse.Namespace) -> int:
    ruleset = _load(args)
    rows = [_rule_row(rule, ruleset) for rule in ruleset.rules]
    if args.output != "table":
        print_document({"rules": rows, "limits": _limits(ruleset)}, args.output)
        return 0
    if rows:
        from kubeops.cli.cluster import print_columns

        header = ["NAME", "SOURCE", "EVENTS", "ACTIONS", "SAFETY", "ORIGIN"]
        print_columns(
            [header]
            + [
                [r["name"], r["source"], r["events"], r["actions"], r["safety"], r["origin"]]
                for r in rows
            ]
        )
    count = len(rows)
    mode = " (dry run)" if ruleset.limits.dry_run else ""
    print(f"{count} rule{'s' if count != 1 else ''} valid{mode}", file=sys.stderr)
    return 0


def _rule_row(rule: Any, ruleset: RuleSet) -> dict[str, str]:
    from kubeops.models.duration import format_duration

    trigger = rule.trigger
    events = ",".join(trigger.names) or "*"
    if trigger.kind:
        events = f"{trigger.kind}:{events}"
    safety = rule.safety
    parts = []
    if safety.dry_run:
        parts.append("dry-run")
    if safety.cooldown:
        parts.append(f"cooldown {format_duration(safety.cooldown)}")
    if safety.max_actions:
        parts.append(
            f"max {safety.max_actions.count}/{format_duration(safety.max_actions.seconds)}"
        )
    if safety.dedup_window:
        parts.append(f"dedup {format_duration(safety.dedup_window)}")
    if safety.max_scale_percent is not None:
        parts.append(f"scale<={safety.max_scale_percent:g}%")
    if safety.max_drained_nodes:
        window = safety.max_drained_nodes
        parts.append(f"drain<={window.count}/{format_duration(window.seconds)}")
    return {
        "name": rule.name,
        "source": trigger.source or "any",
        "events": events,
        "actions": ",".join(spec.kind for spec in rule.actions),
        "safety": ", ".join(parts) or "-",
        "origin": rule.origin,
    }


def _limits(ruleset: RuleSet) -> dict[str, Any]:
    limits = ruleset.limits
    window = limits.max_actions
    return {
        "maxActions": {"count": window.count, "seconds": window.seconds} if window else None,
        "dryRun": limits.dry_run,
        "namespace": limits.namespace,
        "killSwitch": limits.kill_switch,
    }


def _run_replay(args: argparse.Namespace) -> int:
    import asyncio

    from kubeops.respond.replay import replay

    ruleset = _load(args)
    complete(args)

    async def main() -> list[Decision]:
        if not args.plan:
            return await replay(ruleset, args.events, None)
        from kubeops.api import Client
        from kubeops.config import load_config

        config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
        async with Client(config) as client:
            return await replay(ruleset, args.events, client)

    decisions = asyncio.run(main())
    if args.output != "table":
        print_document([d.as_dict() for d in decisions], args.output)
        return 0
    _print_decisions(
        [
            [
                "",
                d.rule,
                d.event_name,
                d.subject or "-",
                d.action or "-",
                d.outcome,
                d.reason or "-",
                d.detail or "",
            ]
            for d in decisions
        ],
        with_time=False,
    )
    from kubeops.respond.engine import decisions_summary

    summary = ", ".join(f"{n} {k}" for k, n in sorted(decisions_summary(decisions).items()))
    print(f"{len(decisions)} decisions{': ' + summary if summary else ''}", file=sys.stderr)
    return 0


def _run_audit(args: argparse.Namespace) -> int:
    from kubeops.config.database import sqlite_file
    from kubeops.errors import KubeopsError
    from kubeops.respond.audit import AuditLog, default_url
    from kubeops.respond.outcome import OUTCOMES

    complete(args)
    if args.outcome is not None and args.outcome not in OUTCOMES:
        raise KubeopsError(
            f"respond audit: --outcome {args.outcome!r} is not one of {', '.join(OUTCOMES)}"
        )
    if args.limit is not None and args.limit < 1:
        raise KubeopsError("respond audit: --limit must be 1 or more")
    since = _moment(args.since, "--since")
    until = _moment(args.until, "--until")
    subject = _subject(args.object) if args.object else None
    missing = sqlite_file(args.audit_url or default_url())
    if missing is not None and not missing.exists():
        # A query creates nothing: like `kubectl get` on nothing, an empty answer.
        print(f"no audit log at {missing} yet (kubeops respond run writes it)", file=sys.stderr)
        if args.output != "table":
            print_document([], args.output)
        return 0

    async def read() -> list[Any]:
        log = await AuditLog.open(args.audit_url, retry_for=0.0)
        try:
            return await log.query(
                rule=args.rule,
                subject=subject,
                outcome=args.outcome,
                since=since,
                until=until,
                limit=args.limit,
            )
        finally:
            await log.close()

    import asyncio

    records = asyncio.run(read())
    rows = [_record_dict(r) for r in records]
    if args.output != "table":
        print_document(rows, args.output)
        return 0
    if not rows:
        print("No decisions found.", file=sys.stderr)
        return 0
    _print_decisions(
        [
            [
                _short_time(r["time"]),
                r["rule"],
                r["event_name"],
                r["subject"] or "-",
                r["action"] or "-",
                r["outcome"] + (" (dry run)" if r["dry_run"] and r["outcome"] != "dry-run" else ""),
                r["reason"] or "-",
                r["detail"] or "",
            ]
            for r in rows
        ],
        with_time=True,
    )
    return 0


def _run_daemon(args: argparse.Namespace) -> int:
    from kubeops.cli.inspect_serve import serving_options
    from kubeops.respond import daemon

    return daemon.run_from_args(complete(args), serving_options(args))


# --- helpers -----------------------------------------------------------------------------------


def _moment(text: str | None, flag: str) -> Any:
    """``--since 1h`` (that long ago) or an RFC 3339 time, as an aware datetime."""
    import datetime

    from kubeops.errors import KubeopsError
    from kubeops.models.duration import DurationError, parse_duration

    if text is None:
        return None
    now = datetime.datetime.now(datetime.UTC)
    try:
        return now - datetime.timedelta(seconds=parse_duration(text))
    except DurationError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise KubeopsError(
            f"respond audit: {flag} {text!r} is neither a duration (1h, 30m) "
            "nor an RFC 3339 time (2026-01-02T03:04:05Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _subject(text: str) -> str:
    """``Pod/shop/web-1``, ``po/shop/web-1`` or ``pods/shop/web-1`` (``node/n1`` for a
    cluster-scoped object) as the audit log writes a subject: ``pod/shop/web-1``."""
    from kubeops.errors import KubeopsError

    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise KubeopsError(
            f"respond audit: --object {text!r}: write KIND/NAMESPACE/NAME "
            "(or KIND/NAME for a cluster-scoped object)"
        )
    from kubeops.api.mapper import Mapper
    from kubeops.api.resource import BUILTIN

    known = Mapper(BUILTIN).find(parts[0])  # deploy, po, svc... as kubectl takes them
    kind = known.kind if known is not None else parts[0]
    return "/".join([kind.lower(), *parts[1:]])


def _record_dict(record: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        data = dataclasses.asdict(record)
    else:
        data = dict(vars(record))
    when: Any = data.get("time")
    if hasattr(when, "isoformat"):
        data["time"] = when.isoformat()
    return data


def _short_time(text: str) -> str:
    """``2026-01-02T03:04:05.123+00:00`` -> ``2026-01-02 03:04:05``."""
    return text.replace("T", " ")[:19]


def _print_decisions(rows: Sequence[Sequence[str]], *, with_time: bool) -> None:
    from kubeops.cli.cluster import print_columns

    header = ["TIME", "RULE", "EVENT", "OBJECT", "ACTION", "OUTCOME", "REASON", "DETAIL"]
    if not with_time:
        header = header[1:]
        rows = [row[1:] for row in rows]
    if not rows:
        print("No decisions: no rule matched these events.", file=sys.stderr)
        return
    print_columns([header, *[[*row[:-1], one_line(row[-1])] for row in rows]])
