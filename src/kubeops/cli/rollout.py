"""``kubeops rollout status|history|undo|set-image|restart|pause|resume``, ``kubeops scale``
and ``kubeops wait``: kubectl's verbs, with kubectl's output.

Objects are named as kubectl takes them (``deploy/web``, or ``deploy web api``, or a
kind and ``-l SELECTOR``).  Results go to stdout (``-o json`` for machines); the
progress of a wait goes to stderr, whatever the output format.  With several objects every one is tried,
each failure is reported on its own line, and the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import run
from kubeops.cli.connection import add_connection_flags
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from kubeops.api import Client

Target = tuple[str, str]


def register(groups: Any) -> None:
    """Add ``kubeops rollout``, ``scale`` and ``wait`` to the command groups."""
    rollout = groups.add_parser(
        "rollout", help="manage the rollout of deployments, statefulsets and daemonsets"
    )
    verbs = rollout.add_subparsers(dest="rollout_command", metavar="VERB", required=True)

    status = _verb(verbs, "status", "wait for a rollout to finish, showing its progress")
    status.add_argument(
        "-w",
        "--watch",
        type=_boolean,
        nargs="?",
        const=True,
        default=True,
        help="wait until the rollout is done (default true; --watch=false looks once)",
    )
    status.add_argument(
        "--timeout", default="0", help="how long to wait, e.g. 90s, 5m (default 0: no limit)"
    )
    status.add_argument("--revision", type=int, help="pin the deployment revision to watch")
    status.set_defaults(handler=run(_status))

    history = _verb(verbs, "history", "show the revisions and their change-cause")
    history.add_argument("--revision", type=int, help="show this revision's pod template")
    history.set_defaults(handler=run(_history))

    undo = _verb(verbs, "undo", "roll back to the previous (or a given) revision")
    undo.add_argument("--to-revision", type=int, default=0, help="the revision (default: previous)")
    _dry_run(undo)
    undo.set_defaults(handler=run(_undo))

    set_image = _verb(
        verbs,
        "set-image",
        "set container images: TARGET... CONTAINER=IMAGE... (* for all containers)",
    )
    set_image.add_argument("--change-cause", help="recorded as kubernetes.io/change-cause")
    _dry_run(set_image)
    set_image.set_defaults(handler=run(_set_image))

    for name, text in (
        ("restart", "restart every pod with a rolling update"),
        ("pause", "stop a deployment from rolling out changes"),
        ("resume", "let a paused deployment roll out again"),
    ):
        verb = _verb(verbs, name, text)
        _dry_run(verb)
        verb.set_defaults(handler=run(_simple))

    scale = groups.add_parser("scale", help="set replicas through the scale subresource")
    _targets_and_output(scale)
    scale.add_argument("--replicas", type=int, required=True, help="the new number of replicas")
    scale.add_argument(
        "--current-replicas", type=int, help="precondition: scale only if it has this many now"
    )
    scale.add_argument("--resource-version", help="precondition: scale only at this version")
    scale.add_argument(
        "--timeout", default="0", help="wait this long for the status to agree (default 0: no wait)"
    )
    _dry_run(scale)
    add_connection_flags(scale)
    scale.set_defaults(handler=run(_scale))

    wait = groups.add_parser("wait", help="wait for a condition, a deletion or a JSONPath value")
    _targets_and_output(wait)
    wait.add_argument(
        "--for",
        dest="condition",
        required=True,
        help="delete, create, condition=TYPE[=STATUS] or jsonpath='{EXPR}'[=VALUE]",
    )
    wait.add_argument(
        "--timeout", default="30s", help="how long to wait (default 30s; 0: check once)"
    )
    wait.add_argument("--all", action="store_true", help="every object of the kind")
    add_connection_flags(wait, all_namespaces="with --all or -l: in every namespace")
    wait.set_defaults(handler=run(_wait))


def _verb(verbs: Any, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(name, help=text, description=text)
    _targets_and_output(parser)
    add_connection_flags(parser)
    return parser


def _targets_and_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets", nargs="+", metavar="TARGET", help="KIND/NAME..., or KIND [NAME...]"
    )
    parser.add_argument("-l", "--selector", help="label selector, with a KIND and no names")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")


def _dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", choices=("none", "server"), default="none")


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


# -- shared plumbing --------------------------------------------------------------------------


def _parse_targets(words: Sequence[str], selector: str | None) -> tuple[list[Target], str | None]:
    """``deploy/a deploy/b`` or ``deploy a b`` as (kind, name) pairs; ``deploy -l x`` as a kind."""
    from kubeops.errors import KubeopsError

    if any("/" in w for w in words):
        if not all("/" in w for w in words):
            raise KubeopsError(
                "give every object as KIND/NAME, or one KIND followed by names, not a mix"
            )
        if selector:
            raise KubeopsError("a label selector goes with a KIND alone, not with KIND/NAME")
        pairs = [tuple(w.split("/", 1)) for w in words]
        if any(not kind or not name for kind, name in pairs):
            raise KubeopsError("every object needs a KIND and a NAME, as in deploy/web")
        return [(kind, name) for kind, name in pairs], None
    kind, names = words[0], list(words[1:])
    if names and selector:
        raise KubeopsError("give object names or a label selector, not both")
    return [(kind, name) for name in names], (kind if not names else None)


async def _resolve(client: Client, args: argparse.Namespace, words: Sequence[str]) -> list[Target]:
    """The (kind, name) pairs named, or those a selector picks now (an error if none)."""
    from kubeops.errors import KubeopsError

    targets, kind_only = _parse_targets(words, args.selector)
    if kind_only is None:
        return targets
    if not args.selector:
        raise KubeopsError(f"name the {kind_only} objects, or select them with -l SELECTOR")
    listed = await client.list(kind_only, args.namespace, label_selector=args.selector)
    names = [item["metadata"]["name"] for item in listed.get("items") or []]
    if not names:
        where = args.namespace or client.namespace
        raise KubeopsError(
            f"no {kind_only} objects match selector {args.selector!r} in namespace {where!r}"
        )
    return [(kind_only, name) for name in names]


async def _each(
    targets: Sequence[Target], act: Callable[[str, str], Awaitable[Any]]
) -> tuple[list[Any], int]:
    """Run ``act`` on every target; with several, a failure is reported and the rest go on."""
    from kubeops.errors import KubeopsError

    results, failed = [], 0
    for kind, name in targets:
        try:
            results.append(await act(kind, name))
        except KubeopsError as err:
            if len(targets) == 1:
                raise
            print(f"kubeops: error: {printable(str(err))}", file=sys.stderr, flush=True)
            failed += 1
    return results, 1 if failed else 0


async def _each_reported(
    args: argparse.Namespace, targets: Sequence[Target], act: Callable[[str, str], Awaitable[Any]]
) -> int:
    """:func:`_each`, then print what succeeded as ``-o`` asks; the exit code."""
    results, code = await _each(targets, act)
    if results:
        _emit(args, results, len(targets) > 1)
    return code


def _emit(args: argparse.Namespace, results: Sequence[Any], many: bool) -> None:
    if args.output == "json":
        import orjson

        document = [r.to_dict() for r in results] if many else results[0].to_dict()
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for result in results:
            print(printable(str(result)), flush=True)


def _progress(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def _seconds(text: str) -> float:
    from kubeops.models.duration import parse_duration

    return parse_duration(text)


# -- rollout ----------------------------------------------------------------------------------


async def _status(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rollout import Rollout

    timeout = _seconds(args.timeout)
    targets = await _resolve(client, args, args.targets)

    async def act(kind: str, name: str) -> Any:
        return await Rollout(client, kind, name, args.namespace).status(
            watch=args.watch,
            timeout=timeout if timeout > 0 else None,
            revision=args.revision,
            on_progress=lambda status: _progress(f"{status.message} ({status.progress})"),
        )

    return await _each_reported(args, targets, act)


async def _history(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rollout import Rollout, format_history
    from kubeops.ops.wait import display_name

    targets = await _resolve(client, args, args.targets)

    async def act(kind: str, name: str) -> dict[str, Any]:
        rollout = Rollout(client, kind, name, args.namespace)
        revisions = await rollout.history(args.revision)
        target = display_name(await client.resource(kind), name)
        return {
            "target": target,
            "namespace": rollout.namespace,
            "revisions": [r.to_dict() for r in revisions],
            "text": format_history(target, revisions, args.revision),
        }

    results, code = await _each(targets, act)
    if args.output == "json":
        import orjson

        for entry in results:
            entry.pop("text")
        document: Any = results if len(targets) > 1 else results[0] if results else None
        if document is not None:
            sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for entry in results:
            sys.stdout.write(entry["text"] + "\n")
    return code


async def _undo(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rollout import Rollout

    targets = await _resolve(client, args, args.targets)

    async def act(kind: str, name: str) -> Any:
        return await Rollout(client, kind, name, args.namespace).undo(
            args.to_revision, dry_run=args.dry_run == "server"
        )

    return await _each_reported(args, targets, act)


async def _set_image(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.rollout import Rollout

    words = [w for w in args.targets if "=" not in w]
    pairs = [w for w in args.targets if "=" in w]
    if not words:
        raise KubeopsError("set-image needs the objects to change, as KIND/NAME or KIND NAME")
    if not pairs:
        raise KubeopsError("set-image needs at least one CONTAINER=IMAGE")
    images: dict[str, str] = {}
    for pair in pairs:
        container, _, image = pair.partition("=")
        if not container or not image:
            raise KubeopsError(f"invalid image update {pair!r}: use CONTAINER=IMAGE")
        images[container] = image
    targets = await _resolve(client, args, words)

    async def act(kind: str, name: str) -> Any:
        return await Rollout(client, kind, name, args.namespace).set_image(
            images, change_cause=args.change_cause, dry_run=args.dry_run == "server"
        )

    return await _each_reported(args, targets, act)


async def _simple(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.rollout import Rollout

    targets = await _resolve(client, args, args.targets)
    dry_run = args.dry_run == "server"

    async def act(kind: str, name: str) -> Any:
        rollout = Rollout(client, kind, name, args.namespace)
        verb = {"restart": rollout.restart, "pause": rollout.pause, "resume": rollout.resume}
        return await verb[args.rollout_command](dry_run=dry_run)

    return await _each_reported(args, targets, act)


# -- scale ------------------------------------------------------------------------------------


async def _scale(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.scale import scale

    timeout = _seconds(args.timeout)
    targets = await _resolve(client, args, args.targets)
    if args.resource_version and len(targets) > 1:
        raise KubeopsError("--resource-version applies to one object, not several")

    async def act(kind: str, name: str) -> Any:
        return await scale(
            client,
            kind,
            name,
            args.replicas,
            args.namespace,
            current_replicas=args.current_replicas,
            resource_version=args.resource_version,
            dry_run=args.dry_run == "server",
            wait=timeout > 0,
            timeout=timeout,
            on_progress=lambda now, want: _progress(f"{kind}/{name}: {now} of {want} replicas"),
        )

    return await _each_reported(args, targets, act)


# -- wait -------------------------------------------------------------------------------------


async def _wait(client: Client, args: argparse.Namespace) -> int:
    import asyncio

    from kubeops.errors import KubeopsError
    from kubeops.ops.wait import WaitResult, parse_condition, wait_for

    condition = parse_condition(args.condition)
    timeout = _seconds(args.timeout)
    targets, kind_only = _parse_targets(args.targets, args.selector)
    if kind_only is not None and not (args.selector or args.all):
        raise KubeopsError(
            f"name the {kind_only} objects to wait for, or pick them with -l SELECTOR or --all"
        )
    groups: dict[str, list[str]] = {}
    for kind, name in targets:
        groups.setdefault(kind, []).append(name)
    if kind_only is not None:
        groups[kind_only] = []
    shown: dict[str, str] = {}

    def progress(results: list[WaitResult]) -> None:
        for result in results:
            if not result.met and shown.get(result.target) != result.missing:
                _progress(f"waiting for {condition} on {result.target}: {result.missing}")
                shown[result.target] = result.missing

    outcome = await asyncio.gather(
        *(
            wait_for(
                client,
                kind,
                condition,
                names,
                args.namespace,
                label_selector=args.selector if not names else None,
                all_objects=args.all and not names,
                all_namespaces=args.all_namespaces,
                timeout=None if timeout < 0 else timeout,
                on_progress=progress,
            )
            for kind, names in groups.items()
        ),
        return_exceptions=True,
    )
    results: list[WaitResult] = []
    errors: list[BaseException] = []
    for item in outcome:
        if isinstance(item, BaseException):
            errors.append(item)
        else:
            results.extend(item)
    if results:
        _emit(args, results, len(results) > 1 or kind_only is not None)
    for err in errors[:-1]:
        if not isinstance(err, KubeopsError):
            raise err
        print(f"kubeops: error: {printable(str(err))}", file=sys.stderr, flush=True)
    if errors:
        raise errors[-1]
    return 0
