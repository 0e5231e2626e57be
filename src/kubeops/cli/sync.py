"""``kubeops sync``: keep resources consistent across clusters (``ClusterSyncPolicy``).

::

    kubeops sync install                                   # CRDs, namespace, RBAC on the hub
    kubeops sync join cluster-b --member-kubeconfig b.yaml --labels env=prod
    kubeops sync plan -f policy.yaml                      # every change per target; exit 2 if any
    kubeops sync status -o wide
    kubeops sync run --listen :8080 --auth kubernetes      # the push controller, leader-elected
    kubeops sync agent --hub hub.yaml --member cluster-c   # the pull agent, beside its member

The connection flags (``--kubeconfig``, ``--context``) name the hub, except for
``agent``, where they name the member it runs beside.  Errors are one line and
exit 1; ``plan`` exits 2 when it would change something, 0 when all is in sync.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import one_line, print_document
from kubeops.cli.connection import add_connection_flags, complete
from kubeops.errors import KubeopsError

if TYPE_CHECKING:
    from kubeops.api import Client
    from kubeops.sync.model import SyncPolicy
    from kubeops.sync.operation import Operation

OUTPUTS = ("table", "wide", "json", "yaml")
POLICY_FILE_LIMIT = 1024 * 1024
KUBECONFIG_LIMIT = 1024 * 1024
PLAN_CHANGES = 2
"""``plan``'s exit code when applying the policy would change something (as ``diff``)."""


class SyncCommandError(KubeopsError, ValueError):
    """A ``kubeops sync`` argument or file that cannot be used."""


def register(groups: Any) -> None:
    """Add ``kubeops sync`` and its commands to the command groups."""
    parser = groups.add_parser(
        "sync",
        help="multi-cluster sync: policies that keep resources consistent across clusters",
        description="Keep resources consistent across member clusters with ClusterSyncPolicy "
        "objects on a hub: install the API, join members, preview with plan, watch status, "
        "and run the push controller or the pull agent.",
    )
    commands = parser.add_subparsers(dest="sync_command", metavar="COMMAND", required=True)
    _install(commands)
    _join(commands)
    _rbac(commands)
    _plan(commands)
    _status(commands)
    _run(commands)
    _agent(commands)


def _output(parser: argparse.ArgumentParser, default: str = "table") -> None:
    parser.add_argument(
        "-o", "--output", choices=OUTPUTS, default=default, help=f"default: {default}"
    )


def _policy_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "policy", nargs="?", metavar="POLICY", help="a ClusterSyncPolicy on the hub"
    )
    parser.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        help="a local policy file (one or more ClusterSyncPolicy documents) instead",
    )


def _install(commands: Any) -> None:
    install = commands.add_parser(
        "install",
        help="install the sync API on the hub: CRDs, namespace, the controller's RBAC",
        description="Apply the CustomResourceDefinitions (ClusterSyncPolicy, MemberCluster, "
        "SyncWork), the kubeops-sync namespace and the controller's least-privilege RBAC to "
        "the hub; with --agent MEMBER, the hub-side Role a pull agent of MEMBER needs.",
    )
    install.add_argument(
        "--agent", metavar="MEMBER", help="install the hub-side RBAC of MEMBER's pull agent"
    )
    install.add_argument(
        "--dry-run", action="store_true", help="print what would be applied; change nothing"
    )
    _output(install)
    add_connection_flags(install)
    install.set_defaults(handler=_run_install)


def _join(commands: Any) -> None:
    join = commands.add_parser(
        "join",
        help="register a member cluster with the hub (its kubeconfig Secret and MemberCluster)",
        description="Store the member's kubeconfig in a Secret in kubeops-sync and create "
        "its MemberCluster on the hub.  A Pull member needs no kubeconfig: its agent "
        "brings its own credentials.",
    )
    join.add_argument("name", metavar="NAME", help="the member's name (MemberCluster)")
    join.add_argument(
        "--member-kubeconfig",
        metavar="FILE",
        help="kubeconfig the controller uses to reach the member (required for Push)",
    )
    join.add_argument(
        "--labels", metavar="KEY=VALUE,...", help="labels for targetSelector to match"
    )
    join.add_argument(
        "--mode", choices=("Push", "Pull"), default="Push", help="how it receives objects"
    )
    _output(join)
    add_connection_flags(join)
    join.set_defaults(handler=_run_join)


def _rbac(commands: Any) -> None:
    rbac = commands.add_parser(
        "rbac",
        help="the least-privilege ClusterRole a member must grant for these policies",
        description="Print what a target member applies so the controller (or with --agent, "
        "its pull agent) may sync what the policies select and nothing else: the "
        "kubeops-sync namespace, a ServiceAccount, its ClusterRole and binding (no "
        "wildcards).  Pipe it to `kubectl apply -f -` on the member.",
    )
    _policy_source(rbac)
    rbac.add_argument(
        "--agent", action="store_true", help="what a Pull member grants its agent instead"
    )
    rbac.add_argument(
        "--source",
        action="store_true",
        help="the read-only ClusterRole a source member grants the controller instead",
    )
    _output(rbac, default="yaml")
    add_connection_flags(rbac)
    rbac.set_defaults(handler=_run_rbac)


def _plan(commands: Any) -> None:
    plan = commands.add_parser(
        "plan",
        help="every create, update and delete per target, as a diff; nothing is changed",
        description="Compare what the policy wants on each target with what is there and "
        "print every create, update, delete and orphan as a diff -- read it before pruning. "
        "Exit code 2 when something would change, 0 when everything is in sync.",
    )
    _policy_source(plan)
    plan.add_argument("--target", metavar="NAME", help="only this target cluster")
    _output(plan)
    add_connection_flags(plan)
    plan.set_defaults(handler=_run_plan)


def _status(commands: Any) -> None:
    status = commands.add_parser(
        "status",
        help="per policy and target: desired, in sync, drifted, conflicts, failed, last error",
        description="Read the policies' status from the hub (as the controller wrote it).",
    )
    status.add_argument("policy", nargs="?", metavar="POLICY", help="only this policy")
    _output(status)
    add_connection_flags(status)
    status.set_defaults(handler=_connected(_run_status))


def _run(commands: Any) -> None:
    from kubeops.cli.inspect_serve import add_serving_flags
    from kubeops.sync import daemon

    run = commands.add_parser(
        "run",
        help="the push controller on the hub (leader-elected; /metrics, /healthz, /readyz)",
        description="Run the push controller against the hub until stopped: the replica "
        "holding the Lease kubeops-sync syncs every policy; all serve /metrics, /healthz "
        "and /readyz on one port.",
    )
    add_connection_flags(run)
    add_serving_flags(run)
    daemon.add_run_flags(run)
    run.set_defaults(handler=_daemon("run"))


def _agent(commands: Any) -> None:
    from kubeops.cli.inspect_serve import add_serving_flags
    from kubeops.sync import daemon

    agent = commands.add_parser(
        "agent",
        help="the pull agent beside a member cluster (leader-elected on the member)",
        description="Fetch this member's SyncWork from the hub, apply it to the member "
        "(--kubeconfig/--context, or in-cluster) and report back; the replica holding the "
        "Lease kubeops-sync-agent on the member works.",
    )
    add_connection_flags(agent)
    add_serving_flags(agent)
    daemon.add_agent_flags(agent)
    agent.set_defaults(handler=_daemon("agent"))


# --- handlers ----------------------------------------------------------------------------------


def _connected(
    handler: Callable[[Client, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """Run ``handler`` with a client for the hub (the connection flags)."""
    from kubeops.cli.cluster import run

    return run(handler)


def _daemon(role: str) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from kubeops.cli.inspect_serve import serving_options
        from kubeops.sync import daemon

        return daemon.main(complete(args), serving_options(args), role)

    return command


def _run_install(args: argparse.Namespace) -> int:
    from kubeops.sync import install

    if args.dry_run:  # nothing is sent: no hub needed
        _print_applied(install.install_objects(agent=args.agent), args.output, dry_run=True)
        return 0

    async def apply(client: Client, args: argparse.Namespace) -> int:
        _print_applied(await install.install(client, agent=args.agent), args.output)
        return 0

    return _connected(apply)(args)


def _print_applied(objects: list[dict[str, Any]], output: str, *, dry_run: bool = False) -> None:
    if output in ("json", "yaml"):
        print_document({"apiVersion": "v1", "kind": "List", "items": objects}, output)
        return
    done = "would be applied (dry run)" if dry_run else "applied"
    for obj in objects:
        print(f"{_name(obj)} {done}")


def _run_join(args: argparse.Namespace) -> int:
    from kubeops.sync.model import SyncMode

    mode = SyncMode(args.mode)
    kubeconfig = None
    if args.member_kubeconfig:
        kubeconfig = _read_text(args.member_kubeconfig, "--member-kubeconfig", KUBECONFIG_LIMIT)
    elif mode is SyncMode.PUSH:
        raise SyncCommandError(
            f"sync join {args.name}: a Push member needs --member-kubeconfig FILE "
            "(or give --mode Pull and run `kubeops sync agent` beside it)"
        )
    labels = _labels(args.labels) if args.labels else {}
    from kubeops.sync import members

    # Checked before connecting: a bad kubeconfig file needs no hub to be refused.
    members.join_objects(
        args.name, kubeconfig, labels=labels, mode=mode, source=args.member_kubeconfig
    )

    async def join(client: Client, args: argparse.Namespace) -> int:
        objects = await members.join(
            client,
            args.name,
            kubeconfig,
            labels=labels,
            mode=mode,
            source=args.member_kubeconfig,
        )
        if args.output in ("json", "yaml"):
            print_document({"apiVersion": "v1", "kind": "List", "items": objects}, args.output)
            return 0
        for obj in objects:
            joined = obj.get("kind") == "MemberCluster"
            print(f"{_name(obj)} {f'joined ({mode.value})' if joined else 'applied'}")
        return 0

    return _connected(join)(args)


def _run_rbac(args: argparse.Namespace) -> int:
    from kubeops.sync import rbac

    if args.agent and args.source:
        raise SyncCommandError("sync rbac: give --agent or --source, not both")

    def show(policies: list[SyncPolicy]) -> int:
        if args.source:
            objects = [rbac.source_cluster_role(policies)]
        else:
            objects = rbac.member_rbac(policies, agent=args.agent)
        items = {"apiVersion": "v1", "kind": "List", "items": objects}
        print_document(items, "json" if args.output == "json" else "yaml")
        return 0

    if args.filename:  # no hub needed
        return show(_policy_file(args.filename, args.policy))

    async def from_hub(client: Client, args: argparse.Namespace) -> int:
        return show(await _hub_policies(client, args.policy))

    return _connected(from_hub)(args)


def _run_plan(args: argparse.Namespace) -> int:
    from kubeops.sync import plan, render

    # A file is read before connecting: its mistakes need no hub.
    from_file = _policy_file(args.filename, args.policy) if args.filename else None

    async def compare(client: Client, args: argparse.Namespace) -> int:
        policies = from_file or await _hub_policies(client, args.policy)
        operations: list[Operation] = []
        for policy in policies:
            operations.extend(await plan.plan(client, policy, target=args.target))
        if args.output in ("json", "yaml"):
            print_document(render.plan_as_dict(operations), args.output)
        else:
            sys.stdout.write(render.render_plan(operations, wide=args.output == "wide"))
            print(render.summary(operations))
        return PLAN_CHANGES if any(op.writes for op in operations) else 0

    return _connected(compare)(args)


async def _run_status(client: Client, args: argparse.Namespace) -> int:
    from kubeops.sync.model import POLICY_KIND

    objects = await _read_policies(client, args.policy)
    rows = [policy_status(obj) for obj in objects]
    if args.output in ("json", "yaml"):
        print_document(rows, args.output)
        return 0
    if not rows:
        print(f"No {POLICY_KIND} objects on the hub.", file=sys.stderr)
        return 0
    _print_status(rows, wide=args.output == "wide")
    return 0


# --- status ------------------------------------------------------------------------------------


COUNTS = ("desired", "inSync", "drifted", "conflicts", "failed", "pending")


def policy_status(obj: dict[str, Any]) -> dict[str, Any]:
    """One policy's status as ``status`` shows it: conditions by type and its targets."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("type")}
    return {
        "name": meta.get("name", ""),
        "source": spec.get("sourceCluster", ""),
        "paused": bool(spec.get("paused", False)),
        "generation": meta.get("generation"),
        "observedGeneration": status.get("observedGeneration"),
        "ready": (conditions.get("Ready") or {}).get("status", "Unknown"),
        "valid": (conditions.get("Valid") or {}).get("status", "Unknown"),
        "message": _condition_message(conditions),
        "targets": [
            {
                "name": t.get("name", ""),
                "mode": t.get("mode", ""),
                **{count: int(t.get(count) or 0) for count in COUNTS},
                "lastError": t.get("lastError") or "",
                "lastSyncTime": t.get("lastSyncTime") or "",
            }
            for t in status.get("targets") or []
        ],
    }


def _condition_message(conditions: dict[str, Any]) -> str:
    for kind in ("Valid", "Ready"):
        condition = conditions.get(kind) or {}
        if condition.get("status") == "False" and condition.get("message"):
            return str(condition["message"])
    return ""


def _print_status(rows: Sequence[dict[str, Any]], *, wide: bool) -> None:
    from kubeops.cli.cluster import age, print_columns

    header = ["POLICY", "SOURCE", "TARGET", "MODE", "DESIRED", "IN-SYNC", "DRIFTED"]
    header += ["CONFLICTS", "FAILED", "PENDING"]
    if wide:
        header += ["READY", "LAST-SYNC"]
    header.append("LAST-ERROR")
    lines: list[list[str]] = [header]
    for row in rows:
        if not row["targets"]:
            why = row["message"] or ("paused" if row["paused"] else "no status yet")
            line = [row["name"], row["source"], "-", "-", *["-"] * len(COUNTS)]
            if wide:
                line += [row["ready"], "-"]
            lines.append([*line, one_line(why, 60)])
            continue
        for target in row["targets"]:
            line = [row["name"], row["source"], target["name"], target["mode"] or "-"]
            line += [str(target[count]) for count in COUNTS]
            if wide:
                line += [row["ready"], age(target["lastSyncTime"]) or "-"]
            lines.append([*line, one_line(target["lastError"] or row["message"], 60) or "-"])
    print_columns(lines)


# --- helpers -----------------------------------------------------------------------------------


async def _read_policies(client: Client, name: str | None) -> list[dict[str, Any]]:
    """The named ``ClusterSyncPolicy`` on the hub, or every one; one line when the hub
    does not serve the sync API or has no such policy."""
    from kubeops.api import UnknownKind
    from kubeops.errors import NotFound
    from kubeops.sync.model import API_VERSION, POLICY_KIND

    kind = f"{API_VERSION}/{POLICY_KIND}"
    try:
        if name:
            return [await client.get(kind, name)]
        items: list[dict[str, Any]] = (await client.list(kind)).get("items") or []
        return items
    except UnknownKind:
        raise SyncCommandError(
            f"the hub {client.config.server} does not serve {POLICY_KIND} "
            "(run `kubeops sync install`, or give the hub's --kubeconfig/--context)"
        ) from None
    except NotFound:
        raise SyncCommandError(f"{POLICY_KIND} {name!r} not found on the hub") from None


async def _hub_policies(client: Client, name: str | None) -> list[SyncPolicy]:
    """The named policy on the hub, or every one of them."""
    from kubeops.sync.model import policy_from_object

    items = await _read_policies(client, name)
    if not items:
        raise SyncCommandError("no ClusterSyncPolicy on the hub: name a file with -f")
    return [policy_from_object(obj) for obj in items]


def _policy_file(path: str, only: str | None) -> list[SyncPolicy]:
    """The policies in a local file, each error naming ``file:line``."""
    from kubeops.config.safe_yaml import MarkedDict, load_all
    from kubeops.sync.model import PolicyError, policy_from_object

    text = _read_text(path, "policy file", POLICY_FILE_LIMIT)
    documents = load_all(text, f"policy file {path}", error=SyncCommandError, lines=True)
    policies = []
    for document in documents:
        value = document.value
        if value is None:
            continue
        if not isinstance(value, MarkedDict):
            raise SyncCommandError(f"{path}:{document.line}: expected a ClusterSyncPolicy mapping")
        try:
            policies.append(policy_from_object(value))
        except PolicyError as err:
            raise SyncCommandError(f"{path}:{_line_of_error(value, str(err))}: {err}") from None
    if only:
        policies = [p for p in policies if p.name == only]
        if not policies:
            raise SyncCommandError(f"{path}: no ClusterSyncPolicy named {only!r}")
    if not policies:
        raise SyncCommandError(f"{path}: no ClusterSyncPolicy in the file")
    return policies


def _line_of_error(document: Any, message: str) -> int:
    """The line of the field a :class:`PolicyError` names (``spec.resources[0].kind``),
    or of the nearest enclosing field written in the file."""
    import re

    from kubeops.config.safe_yaml import Locator, field_lines

    found = re.search(r"\b((?:spec|metadata|kind)(?:[.\[][\w\-./\]\[]*)?)", message)
    locate = Locator("", document.line, field_lines(document))
    return int(locate(found.group(1).rstrip(".:") if found else "").rpartition(":")[2])


def _labels(text: str) -> dict[str, str]:
    """``--labels env=prod,region=eu`` as a mapping (keys and values checked as Kubernetes does)."""
    from kubeops.models.selector import SelectorError, parse_selector

    try:
        selector = parse_selector(text).to_label_selector()
    except SelectorError as err:
        raise SyncCommandError(f"--labels {text!r}: {err}") from None
    if selector.get("matchExpressions") or not selector.get("matchLabels"):
        raise SyncCommandError(f"--labels {text!r}: expected KEY=VALUE pairs separated by commas")
    labels: dict[str, str] = selector["matchLabels"]
    return labels


def _read_text(path: str, what: str, limit: int) -> str:
    from kubeops.config import InputError, read_bounded

    try:
        return read_bounded(path, limit=limit, what=what).decode()
    except InputError as err:
        raise SyncCommandError(str(err)) from None
    except UnicodeDecodeError:
        raise SyncCommandError(f"{what} {path}: not UTF-8 text") from None


def _name(obj: dict[str, Any]) -> str:
    """``kind.group/name`` as kubectl prints an object it applied."""
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    kind = str(obj.get("kind") or "").lower() + (f".{group}" if group else "")
    return f"{kind}/{(obj.get('metadata') or {}).get('name', '')}"
