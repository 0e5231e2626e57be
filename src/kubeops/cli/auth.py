"""``kubeops auth can-i|who-can|matrix|create-sa``: RBAC questions and least-privilege
ServiceAccounts.

``can-i`` answers like kubectl: ``yes``, or ``no`` with the server's reason,
exit code 0 for yes and 1 for no.  ``--as`` asks about another user with a
SubjectAccessReview instead of impersonation, so it needs no impersonate right.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import print_columns, run
from kubeops.cli.connection import add_connection_flags
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from kubeops.api import Client


def register(groups: Any) -> None:
    """Add ``kubeops auth`` (can-i, who-can, matrix, create-sa) to the command groups."""
    auth = groups.add_parser("auth", help="RBAC: can-i, who-can, access matrix, create-sa")
    verbs = auth.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)

    can_i = verbs.add_parser("can-i", help="may I (or --as USER) do VERB on RESOURCE?")
    can_i.add_argument("verb", help="get, list, create, ... or *")
    can_i.add_argument("resource", help="TYPE, TYPE/NAME or a non-resource URL such as /healthz")
    can_i.add_argument("--subresource", help="e.g. log, status, scale")
    _add_subject_flags(can_i)
    can_i.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing; the exit code is the answer"
    )
    can_i.add_argument("-o", "--output", choices=("json",))
    add_connection_flags(can_i, all_namespaces="in every namespace")
    can_i.set_defaults(handler=run(_can_i))

    who_can = verbs.add_parser("who-can", help="which subjects RBAC allows VERB on RESOURCE")
    who_can.add_argument("verb")
    who_can.add_argument("resource", help="TYPE, TYPE/NAME or a non-resource URL")
    who_can.add_argument("--subresource")
    who_can.add_argument("-o", "--output", choices=("json",))
    add_connection_flags(who_can, all_namespaces="in every namespace at once")
    who_can.set_defaults(handler=run(_who_can))

    matrix = verbs.add_parser("matrix", help="verbs by resources for me (or --as USER)")
    _add_subject_flags(matrix)
    matrix.add_argument(
        "--resources", help="comma-separated resources (default: every namespaced one)"
    )
    matrix.add_argument("--verbs", help="comma-separated verbs (default: the eight standard ones)")
    matrix.add_argument("-o", "--output", choices=("json",))
    add_connection_flags(
        matrix, all_namespaces="every namespace at once, cluster-scoped resources included"
    )
    matrix.set_defaults(handler=run(_matrix))

    create_sa = verbs.add_parser(
        "create-sa", help="a ServiceAccount allowed only RULES, and a kubeconfig for it"
    )
    create_sa.add_argument("name")
    create_sa.add_argument(
        "--rule",
        action="append",
        required=True,
        metavar="VERBS:RESOURCES[:NAMES]",
        help="e.g. get,list,watch:pods,deploy or get:secrets:app-tls; repeatable",
    )
    create_sa.add_argument(
        "--duration", default="1h", help="token lifetime: 10m or more, e.g. 1h, 90m (default 1h)"
    )
    create_sa.add_argument(
        "--kubeconfig-out",
        metavar="PATH",
        help="where to write the kubeconfig (default: ./NAME.kubeconfig)",
    )
    create_sa.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        help="server: let the server check the objects; store nothing, write no kubeconfig",
    )
    create_sa.add_argument("-o", "--output", choices=("json",))
    add_connection_flags(create_sa)
    create_sa.set_defaults(handler=run(_create_sa))


def _add_subject_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="ask about this user (system:serviceaccount:NS:NAME for a ServiceAccount)",
    )
    parser.add_argument(
        "--as-group", action="append", default=[], metavar="GROUP", help="repeatable"
    )


def _subject(args: argparse.Namespace) -> Any:
    from kubeops.ops.rbac import Subject

    return Subject.user_named(args.as_user) if args.as_user else None


def _warn(warnings: Any) -> None:
    for warning in warnings:
        print(f"Warning: {printable(str(warning))}", file=sys.stderr)


def _json(document: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


async def _can_i(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rbac import can_i

    answer = await can_i(
        client,
        args.verb,
        args.resource,
        namespace=args.namespace,
        all_namespaces=args.all_namespaces,
        subresource=args.subresource,
        subject=_subject(args),
        groups=args.as_group,
    )
    if not args.quiet:
        _warn(answer.warnings)
        if args.output == "json":
            _json(answer.to_dict())
        elif answer.allowed:
            print("yes")
        else:
            # kubectl's wording: "no", then the server's reason and evaluation error, if any.
            details = [d for d in (answer.reason, answer.evaluation_error) if d]
            print(" - ".join(["no", *details]))
    return 0 if answer.allowed else 1


async def _who_can(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rbac import who_can

    result = await who_can(
        client,
        args.verb,
        args.resource,
        namespace=args.namespace,
        all_namespaces=args.all_namespaces,
        subresource=args.subresource,
    )
    _warn(result.warnings)
    if args.output == "json":
        _json(result.to_dict())
        return 0
    if not result.grants:
        print(f"No subject may {result.target} (by RBAC).", file=sys.stderr)
        return 0
    rows = [["KIND", "NAME", "NAMESPACE", "BINDING", "ROLE"]]
    rows += [
        [g.subject.kind, g.subject.name, g.subject.namespace or "", g.binding, g.role]
        for g in result.grants
    ]
    print_columns(rows)
    return 0


async def _matrix(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rbac import STANDARD_VERBS, access_matrix

    matrix = await access_matrix(
        client,
        _subject(args),
        groups=args.as_group,
        namespace=args.namespace,
        all_namespaces=args.all_namespaces,
        resources=_list(args.resources) if args.resources else None,
        verbs=_list(args.verbs) if args.verbs else STANDARD_VERBS,
    )
    _warn(matrix.warnings)
    if args.output == "json":
        _json(matrix.to_dict())
        return 0
    marks = {True: "yes", False: "no", None: "n/a"}
    rows = [["NAME", *(v.upper() for v in matrix.verbs)]]
    rows += [[r, *(marks[matrix.cells[r][v]] for v in matrix.verbs)] for r in matrix.resources]
    print_columns(rows)
    return 0


async def _create_sa(client: Client, args: argparse.Namespace) -> int:
    from pathlib import Path

    from kubeops.ops.rbac import create_service_account, token_lifetime

    namespace = args.namespace or client.namespace
    seconds = token_lifetime(args.duration)
    path = Path(args.kubeconfig_out or f"{args.name}.kubeconfig")
    dry_run = args.dry_run == "server"
    written = await create_service_account(
        client,
        args.name,
        args.rule,
        path,
        namespace=namespace,
        expiration=seconds,
        dry_run=dry_run,
    )
    if not dry_run and client.config.insecure_skip_tls_verify and not client.config.ca_data:
        print(
            f"kubeops: warning: {written} keeps insecure-skip-tls-verify (the cluster has no CA "
            "configured): add its certificate-authority-data to verify the server",
            file=sys.stderr,
        )
    if args.output == "json":
        rules = None
        if not dry_run:
            rules = (await client.get("roles.rbac.authorization.k8s.io", args.name, namespace))[
                "rules"
            ]
        _json(
            {
                "serviceAccount": {"name": args.name, "namespace": namespace},
                "role": {"name": args.name, "namespace": namespace, "rules": rules},
                "roleBinding": {"name": args.name, "namespace": namespace},
                "kubeconfig": None if dry_run else str(written.resolve()),
                "expirationSeconds": seconds,
                "dryRun": dry_run,
            }
        )
        return 0
    objects = f"serviceaccount, role and rolebinding {args.name} in namespace {namespace}"
    if dry_run:
        print(f"{objects} checked (server dry run); no token requested, no kubeconfig written")
        return 0
    print(f"{objects} applied")
    print(f"kubeconfig written to {written} (token valid for {seconds}s)")
    return 0


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
