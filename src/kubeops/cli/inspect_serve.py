"""``kubeops inspect serve``: inspect on a schedule, keep the history, serve the latest
report, its trend and Prometheus metrics, post summaries to a webhook.

::

    kubeops inspect serve --interval 10m
    kubeops inspect serve --cron "*/15 * * * *" --context prod --context staging \\
        --history-url-file /etc/kubeops/history-url --webhook https://hooks.slack.com/... \\
        --external-url https://inspect.example.com --leader-elect --listen :8080 \\
        --auth kubernetes --tls-cert-file tls.crt --tls-private-key-file tls.key \\
        --keep 5000 --max-age 90d
    kubeops inspect serve --once --history sqlite:///var/lib/kubeops/inspect.db   # a cron job

Pages: / (latest report and trend), /report.json, /history.json, /runs/ID,
/metrics, /healthz, /readyz; behind --auth token|kubernetes and --tls-cert-file when
exposed (the probes stay open).
"""

from __future__ import annotations

import argparse
from typing import Any

from kubeops.cli.connection import add_connection_flags, complete

CONNECTION_HELP = {
    "context": "a kubeconfig context to inspect; repeat for several clusters "
    "(default: the current one)",
    "namespace": "inspect only this namespace (repeatable; default: every namespace)",
    "all_namespaces": "inspect every namespace (the default; overrides -n)",
}

DEFAULT_LISTEN = "127.0.0.1:8080"
SERVICE = "kubeops-inspect"
"""The daemon's name in its traces."""
DAEMON_LOGGERS = ("kubeops.controller.leader_election", "kubeops.controller.serving")
"""The shared parts every daemon logs at ``--log-level info``."""


def register(commands: Any) -> None:
    """Add ``serve`` to the ``kubeops inspect`` sub-commands."""
    parser = commands.add_parser(
        "serve",
        help="inspect on a schedule; serve the latest report, its history and metrics",
        description=(
            "Inspect on a schedule, keep every run in a history database, serve the latest "
            "report with its trend (/), /report.json, /history.json, /runs/ID, Prometheus "
            "/metrics, /healthz and /readyz, and post each run's summary to a webhook."
        ),
    )
    # The flags `kubeops inspect` has too leave its values alone unless given here, so
    # `kubeops inspect --config c.yaml serve` keeps c.yaml (argparse lets a sub-command's
    # defaults overwrite its parent's); the connection flags do the same.
    inherited = argparse.SUPPRESS
    add_connection_flags(parser, **CONNECTION_HELP)
    what = parser.add_argument_group("what to inspect")
    what.add_argument(
        "--config", default=inherited, help="YAML file with thresholds, severities and excludes"
    )
    what.add_argument(
        "--checks",
        default=inherited,
        help="run only these checks (comma-separated IDs or globs, e.g. 'sec-*')",
    )

    when = parser.add_argument_group("when")
    timing = when.add_mutually_exclusive_group()
    timing.add_argument(
        "--interval", help="run every DURATION, e.g. 30s, 10m, 1h (default: 1h); first run at start"
    )
    timing.add_argument(
        "--cron",
        help='run on a cron schedule in local time, e.g. "*/15 * * * *"; first run at start',
    )
    when.add_argument(
        "--once", action="store_true", help="run once, record it and exit (no web page)"
    )
    when.add_argument("--runs", type=int, metavar="N", help="exit after N runs")

    keep = parser.add_argument_group("history and web page")
    keep.add_argument(
        "--history",
        default=inherited,
        metavar="URL",
        help="database for the runs: sqlite:///PATH (one replica), "
        "postgresql://user:password@host/db or postgresql:// with the PG* variables "
        "(replicas; default: sqlite:///~/.local/share/kubeops/inspect.db)",
    )
    keep.add_argument(
        "--history-url-file",
        default=inherited,
        metavar="PATH",
        help="read the database URL from this file (e.g. a mounted Secret) instead of --history",
    )
    keep.add_argument(
        "--keep", type=int, metavar="N", help="keep only the newest N runs (pruned after each run)"
    )
    keep.add_argument(
        "--max-age",
        metavar="DURATION",
        help="delete runs older than DURATION, e.g. 30d or 12h (pruned after each run)",
    )
    keep.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"serve the page and /metrics here (default: {DEFAULT_LISTEN}; :PORT for every "
        "interface, which needs --auth or --allow-unauthenticated)",
    )
    keep.add_argument(
        "--external-url", metavar="URL", help="where users reach the page; linked from webhooks"
    )
    keep.add_argument(
        "--webhook",
        metavar="URL",
        help="POST each run's summary here (JSON with a Slack-compatible text field)",
    )

    add_serving_flags(parser)

    lead = parser.add_argument_group("leader election (several replicas)")
    lead.add_argument(
        "--leader-elect", action="store_true", help="only the replica holding the Lease inspects"
    )
    lead.add_argument("--lease-name", default="kubeops-inspect", help="default: kubeops-inspect")
    lead.add_argument("--lease-namespace", help="default: the lease context's namespace")
    lead.add_argument(
        "--lease-kubeconfig",
        help="kubeconfig of the cluster holding the Lease (default: --kubeconfig)",
    )
    lead.add_argument(
        "--lease-context",
        help="context of the cluster holding the Lease (default: the first --context)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const="debug",
        default=argparse.SUPPRESS,
        help="the same as --log-level debug",
    )
    parser.set_defaults(handler=_serve)


def add_serving_flags(parser: argparse.ArgumentParser) -> None:
    """Who may read a daemon's HTTP port and over what (every daemon takes these flags).

    The modes are :data:`kubeops.controller.serving.AUTH_MODES`, spelled out here so that
    building the parser imports nothing of the serving stack."""
    access = parser.add_argument_group(
        "access to the web page and /metrics (/healthz and /readyz stay open for probes)"
    )
    access.add_argument(
        "--auth",
        choices=("none", "token", "kubernetes"),
        default="none",
        help="none (default; loopback only unless --allow-unauthenticated), token (the bearer "
        "token in --auth-token-file) or kubernetes (the caller's bearer token checked by a "
        "TokenReview and each request by a SubjectAccessReview, as kube-rbac-proxy does)",
    )
    access.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="with --auth token: the file holding the token (e.g. a mounted Secret); "
        "read again when it changes",
    )
    access.add_argument(
        "--auth-kubeconfig",
        metavar="PATH",
        help="with --auth kubernetes: the cluster that reviews callers (default: --kubeconfig; "
        "in a Pod, its ServiceAccount)",
    )
    access.add_argument(
        "--auth-context",
        metavar="NAME",
        help="with --auth kubernetes: that kubeconfig's context (default: the first --context)",
    )
    access.add_argument(
        "--auth-resource-attributes",
        metavar="KEY=VALUE,...",
        help="with --auth kubernetes: authorize every request as the HTTP verb on this "
        "resource (resource=, group=, subresource=, name=, namespace=) instead of as the "
        "request's path (a nonResourceURL, e.g. get /metrics)",
    )
    access.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="allow --auth none on an address other than loopback (anyone reaching the "
        "port reads every report)",
    )
    access.add_argument(
        "--tls-cert-file",
        metavar="PATH",
        help="serve HTTPS with this certificate (PEM, chain allowed); read again when it changes",
    )
    access.add_argument(
        "--tls-private-key-file", metavar="PATH", help="the private key of --tls-cert-file (PEM)"
    )
    add_log_flags(parser)


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    """``--log-format`` and ``--log-level``, the same on every daemon (through
    :func:`add_serving_flags`); read by :func:`kubeops.controller.serving.configure_daemon`.

    The choices are :data:`kubeops.controller.serving.LOG_FORMATS` and ``LOG_LEVELS``,
    spelled out here so that building the parser imports nothing of the serving stack."""
    logs = parser.add_argument_group("logs (stderr, one line per record)")
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one JSON object per line, for log collectors (keys "
        "time, level, logger, message; cluster, kind, namespace, name for an object; trace_id)",
    )
    logs.add_argument(
        "--log-level",
        choices=("error", "warning", "info", "debug"),
        default="info",
        help="info (default): what the daemon does; debug: every request too, the HTTP and "
        "Kafka clients' included (credentials never shown)",
    )


def serving_options(args: argparse.Namespace) -> Any:
    """The :class:`kubeops.controller.serving.ServingOptions` the serving flags describe
    (the address comes from ``--listen``)."""
    from kubeops.controller.serving import ServingOptions, parse_resource_attributes

    attributes = args.auth_resource_attributes
    return ServingOptions(
        auth=args.auth,
        token_file=args.auth_token_file,
        allow_unauthenticated=args.allow_unauthenticated,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_private_key_file,
        resource_attributes=parse_resource_attributes(attributes) if attributes else None,
    )


def options(args: argparse.Namespace) -> Any:
    """Validate the flags into :class:`kubeops.inspect.serve.ServeOptions`."""
    from kubeops.inspect.config import parse_only
    from kubeops.inspect.serve import (
        LeaseOptions,
        ServeError,
        ServeOptions,
        parse_listen,
        parse_schedule,
    )
    from kubeops.inspect.serve.options import validate_url

    complete(args)
    if args.once and args.runs is not None:
        raise ServeError("give --once or --runs, not both")
    if args.runs is not None and args.runs < 1:
        raise ServeError(f"--runs {args.runs}: give at least 1")
    if args.keep is not None and args.keep < 1:
        raise ServeError(f"--keep {args.keep}: keep at least 1 run")
    if args.once and args.leader_elect:
        raise ServeError("--once runs by itself: leave out --leader-elect")
    checks = getattr(args, "checks", None)
    history = getattr(args, "history", None)
    history_file = getattr(args, "history_url_file", None)
    if history and history_file:
        raise ServeError("give --history or --history-url-file, not both")
    max_age = None
    if args.max_age is not None:
        from kubeops.models import DurationError, parse_duration

        try:
            max_age = parse_duration(args.max_age, positive=True)
        except DurationError as err:
            raise ServeError(f"--max-age: {err}") from None
    lease = None
    if args.leader_elect:
        lease = LeaseOptions(
            name=args.lease_name,
            namespace=args.lease_namespace,
            kubeconfig=args.lease_kubeconfig,
            context=args.lease_context,
        )
    return ServeOptions(
        schedule=parse_schedule(args.interval, args.cron),
        kubeconfig=args.kubeconfig,
        contexts=tuple(args.contexts),
        namespaces=() if args.all_namespaces else tuple(args.namespaces),
        config=getattr(args, "config", None),
        checks=() if checks is None else parse_only(checks),
        history=history,
        history_file=history_file,
        listen=None if args.once else parse_listen(args.listen),
        webhook=validate_url(args.webhook, "--webhook") if args.webhook else None,
        external_url=validate_url(args.external_url, "--external-url")
        if args.external_url
        else None,
        lease=lease,
        runs=1 if args.once else args.runs,
        keep=args.keep,
        max_age=max_age,
        serving=serving_options(args),
        auth_kubeconfig=args.auth_kubeconfig,
        auth_context=args.auth_context,
    )


def _serve(args: argparse.Namespace) -> int:
    from kubeops.controller.serving import configure_daemon, run_until_signalled
    from kubeops.inspect.serve import serve

    settings = options(args)
    configure_daemon(
        args.log_format, args.log_level, ("kubeops.inspect.serve", *DAEMON_LOGGERS), SERVICE
    )
    # Stop gracefully (release the Lease, deliver webhooks); a second signal kills.
    return run_until_signalled(lambda stop: serve(settings, stop))
