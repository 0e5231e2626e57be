"""``kubeops get``, ``apply``, ``delete`` and ``api-resources``: kubectl's habits."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import (
    OUTPUTS,
    name_of,
    print_columns,
    print_objects,
    print_table,
    run,
)
from kubeops.cli.connection import add_connection_flags
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from kubeops.api import Client


def register(groups: Any) -> None:
    """Add ``kubeops get``, ``apply``, ``delete`` and ``api-resources`` to the command groups."""
    get = groups.add_parser("get", help="show objects of a kind (like kubectl get)")
    get.add_argument("kind", help="kind, resource or short name: pods, deploy, deployments.apps")
    get.add_argument("names", nargs="*", help="object names (default: all)")
    get.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    get.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")
    get.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    add_connection_flags(get, all_namespaces="list the objects of every namespace")
    get.set_defaults(handler=run(_get))

    apply = groups.add_parser("apply", help="apply manifests with server-side apply")
    apply.add_argument(
        "-f", "--filename", action="append", required=True, help="file, directory or - (repeatable)"
    )
    apply.add_argument(
        "--server-side", action="store_true", help="accepted for kubectl compatibility; always on"
    )
    apply.add_argument(
        "--force-conflicts", action="store_true", help="take over fields other managers own"
    )
    apply.add_argument("--field-manager", default="kubeops")
    apply.add_argument("--dry-run", choices=("none", "server"), default="none")
    apply.add_argument(
        "--policies",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="judge every manifest with these policies (and the built-in library's "
        "defaults, as kubeops policy test does) first: when one is denied, print each "
        "denial and apply nothing (exit 2); warnings are printed and the set applied",
    )
    from kubeops.cli.policy import add_builtins_flag

    add_builtins_flag(apply)
    add_connection_flags(apply)
    apply.set_defaults(handler=_manifests_first(_policies_first(run(_apply))))

    delete = groups.add_parser("delete", help="delete objects by kind and name, or from manifests")
    delete.add_argument("kind", nargs="?", help="kind of the objects to delete")
    delete.add_argument("names", nargs="*")
    delete.add_argument(
        "-f", "--filename", action="append", help="delete what these manifests name"
    )
    delete.add_argument("--wait", action="store_true", help="wait until the objects are gone")
    delete.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")
    delete.add_argument(
        "--cascade", choices=("background", "foreground", "orphan"), default="background"
    )
    delete.add_argument("--grace-period", type=int)
    delete.add_argument("--dry-run", choices=("none", "server"), default="none")
    add_connection_flags(delete)
    delete.set_defaults(handler=_manifests_first(run(_delete)))

    resources = groups.add_parser("api-resources", help="list the resource types the server serves")
    resources.add_argument("--namespaced", choices=("true", "false"))
    resources.add_argument("-o", "--output", choices=("table", "name"), default="table")
    add_connection_flags(resources)
    resources.set_defaults(handler=run(_api_resources))


def _manifests_first(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Load and check every ``-f`` manifest before connecting: bad input fails first,
    with its file, document and field, even when no cluster is reachable."""

    def loaded(args: argparse.Namespace) -> int:
        from kubeops.api.manifest import ManifestError, load_manifests

        args.manifests = load_manifests(args.filename) if args.filename else []
        if args.filename and not args.manifests:
            raise ManifestError(f"no objects found in {', '.join(args.filename)}")
        return command(args)

    return loaded


def _policies_first(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Load ``--policies`` before connecting: a policy that cannot be loaded fails with
    each problem on its own line, even when no cluster is reachable."""

    def loaded(args: argparse.Namespace) -> int:
        args.policy_set = None
        if not getattr(args, "policies", None):
            return command(args)
        from kubeops.cli.policy import load_policy_set, print_load_error
        from kubeops.policy.model import PolicyLoadError

        try:
            args.policy_set = load_policy_set(args.policies, (), builtins=not args.no_builtins)
        except PolicyLoadError as err:
            print_load_error(err)
            return 1
        return command(args)

    return loaded


async def _get(client: Client, args: argparse.Namespace) -> int:
    resource = await client.resource(args.kind)
    namespace = None if args.all_namespaces else args.namespace
    if args.output in ("table", "wide"):
        namespace_column = args.all_namespaces and resource.namespaced
        if args.names:
            tables = [await client.table(resource, namespace, name=n) for n in args.names]
            table = {**tables[0], "rows": [r for t in tables for r in t.get("rows") or []]}
        else:
            table = await client.table(
                resource,
                namespace,
                all_namespaces=args.all_namespaces,
                label_selector=args.selector,
                field_selector=args.field_selector,
            )
        if not print_table(table, wide=args.output == "wide", namespace_column=namespace_column):
            where = (
                ""
                if args.all_namespaces or not resource.namespaced
                else f" in {namespace or client.namespace} namespace"
            )
            print(f"No resources found{where}.", file=sys.stderr)
        return 0
    if args.names:
        objects = [await client.get(resource, n, namespace) for n in args.names]
    else:
        listed = await client.list(
            resource,
            namespace,
            all_namespaces=args.all_namespaces,
            label_selector=args.selector,
            field_selector=args.field_selector,
        )
        objects = listed["items"]
        for obj in objects:  # list items come without their kind
            obj.setdefault("apiVersion", resource.api_version)
            obj.setdefault("kind", resource.kind)
    print_objects(resource, objects, args.output, single=len(args.names) == 1)
    return 0


async def _apply(client: Client, args: argparse.Namespace) -> int:
    from kubeops.api.manifest import apply_manifests

    if args.policy_set is not None and not await _admitted(client, args):
        return POLICY_DENIED

    for applied in await apply_manifests(
        client,
        args.manifests,
        field_manager=args.field_manager,
        force=args.force_conflicts,
        dry_run=args.dry_run == "server",
    ):
        print(applied)
    return 0


POLICY_DENIED = 2
"""``apply --policies``' exit code when a policy denied a manifest (nothing applied)."""


async def _admitted(client: Client, args: argparse.Namespace) -> bool:
    """Judge the whole set before anything is sent: each denial and warning printed
    (``FILE:LINE: Kind ns/name: policy NAME: message``), False when any is denied.
    The policies see the cluster's Namespaces of the manifests, for their selectors."""
    from kubeops.cli.policy import review_manifests

    results = review_manifests(
        args.policy_set,
        args.manifests,
        namespace=args.namespace or client.namespace,
        known=await _namespaces_of(client, args.manifests, args.namespace or client.namespace),
    )
    for violation, review in results.violations:
        shown = _violation_line(violation, review)
        if violation.denies:
            print(f"kubeops: denied: {shown}", file=sys.stderr)
        else:
            print(f"Warning: {shown}", file=sys.stderr)
    if results.denials:
        count = results.denied_objects
        print(
            f"kubeops: error: {count} of {len(args.manifests)} object(s) denied by policy; "
            "nothing was applied",
            file=sys.stderr,
        )
        return False
    return True


def _violation_line(violation: Any, review: Any) -> str:
    where = violation.location or review.location
    namespace = f"{review.namespace}/" if review.namespace else ""
    return printable(
        f"{where}: {review.kind.kind} {namespace}{review.name}: "
        f"policy {violation.policy}: {violation.message}",
        one_line=True,
    )


async def _namespaces_of(client: Client, manifests: Any, default: str) -> list[dict[str, Any]]:
    """The cluster's Namespace objects the manifests go to (those it has and lets us read)."""
    from kubeops.errors import KubeopsError

    names = {(m.object.get("metadata") or {}).get("namespace") or default for m in manifests}
    found = []
    for name in sorted(names):
        try:
            namespace = await client.get("v1/Namespace", name)
        except KubeopsError:  # not there yet (the set may create it), or not ours to read
            continue
        namespace.setdefault("apiVersion", "v1")
        namespace.setdefault("kind", "Namespace")
        found.append(namespace)
    return found


async def _delete(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError, NotFound

    targets: list[tuple[Any, str, str | None]] = []
    if args.filename:
        for manifest in args.manifests:
            obj = manifest.object
            if not obj["metadata"].get("name"):
                raise KubeopsError(
                    f"{manifest.where}: {obj['kind']} has a generateName but no name to delete"
                )
            resource = await client.resource(f"{obj['apiVersion']}/{obj['kind']}")
            targets.append(
                (
                    resource,
                    obj["metadata"]["name"],
                    obj["metadata"].get("namespace") or args.namespace,
                )
            )
    elif args.kind and args.names:
        resource = await client.resource(args.kind)
        targets += [(resource, name, args.namespace) for name in args.names]
    else:
        raise KubeopsError("delete needs -f FILE, or KIND and at least one NAME")
    policy = args.cascade.capitalize()
    dry_run = args.dry_run == "server"
    missing = 0
    for resource, name, namespace in targets:
        try:
            await client.delete(
                resource,
                name,
                namespace,
                propagation_policy=policy,
                grace_period_seconds=args.grace_period,
                dry_run=dry_run,
            )
        except NotFound as err:
            print(f"kubeops: error: {printable(str(err))}", file=sys.stderr)
            missing += 1
            continue
        print(
            f"{name_of(resource, {'metadata': {'name': name}})} deleted"
            + (" (server dry run)" if dry_run else "")
        )
    if args.wait and not dry_run:
        await _wait_gone(client, targets, args.timeout)
    return 1 if missing else 0


async def _wait_gone(
    client: Client, targets: list[tuple[Any, str, str | None]], timeout: float
) -> None:
    import asyncio

    from kubeops.errors import KubeopsError, NotFound

    deadline = time.monotonic() + timeout
    pending = list(targets)
    announced = False
    while pending:
        still = []
        for resource, name, namespace in pending:
            try:
                await client.get(resource, name, namespace)
                still.append((resource, name, namespace))
            except NotFound:
                pass
        pending = still
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(name_of(r, {"metadata": {"name": n}}) for r, n, _ in pending)
            raise KubeopsError(f"timed out after {timeout:.0f}s waiting for deletion of {names}")
        if not announced:
            print(f"waiting for {len(pending)} object(s) to be gone...", file=sys.stderr)
            announced = True
        await asyncio.sleep(0.5)


async def _api_resources(client: Client, args: argparse.Namespace) -> int:
    resources = await client.refresh_discovery()
    if args.namespaced:
        resources = [r for r in resources if r.namespaced == (args.namespaced == "true")]
    seen: set[tuple[str, str]] = set()
    rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    for r in sorted(resources, key=lambda r: (r.group, r.plural)):
        if (r.group, r.plural) in seen:
            continue  # only the preferred version, as kubectl shows
        seen.add((r.group, r.plural))
        if args.output == "name":
            print(r.qualified_name)
            continue
        rows.append(
            [r.plural, ",".join(r.short_names), r.api_version, str(r.namespaced).lower(), r.kind]
        )
    if args.output == "table":
        print_columns(rows)
    return 0
