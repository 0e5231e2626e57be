"""The connection flags every ``kubeops`` command shares, as kubectl's global flags:
``--kubeconfig``, ``--context``, ``-n/--namespace`` and ``-A/--all-namespaces``.

They are accepted by the ``kubeops`` parser itself and by every command and
sub-command parser, so they may come before or after the command at any depth::

    kubeops --kubeconfig k.yaml --context prod get pods
    kubeops get pods --context prod -n shop
    kubeops -n shop rollout status deploy/web
    kubeops inspect serve --context prod --once

Each parser declares them with ``argparse.SUPPRESS`` defaults: a level where a flag
is not given leaves alone what another level gave (argparse copies a sub-command's
values over its parent's, defaults included, so real defaults would erase
``kubeops --context prod get``'s context).  :func:`complete` then fills in the
defaults.  The level nearest the command wins; within one level ``--context`` and
``-n`` keep every value given (``kubeops inspect`` inspects each), and a command
that talks to one cluster and namespace uses the last, as kubectl does.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from kubeops.cli.parser import has_commands
from kubeops.errors import KubeopsError

KUBECONFIG_HELP = "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"
CONTEXT_HELP = "the kubeconfig context to use (default: the current one)"
NAMESPACE_HELP = "the namespace (default: the context's)"
ALL_NAMESPACES_HELP = "every namespace, for the commands that look across namespaces"
NOT_APPLICABLE = "does not apply to this command"

# Set through set_defaults by each parser; the command's own parser, the deepest, wins.
_APPLIES = "all_namespaces_applies"
_COMMAND = "connection_command"


class ConnectionFlagError(KubeopsError):
    """A connection flag given to a command it does not apply to."""


def add_connection_flags(
    parser: argparse.ArgumentParser,
    *,
    all_namespaces: str | None = None,
    context: str = CONTEXT_HELP,
    namespace: str = NAMESPACE_HELP,
) -> None:
    """Give ``parser`` the connection flags (once; a second call changes nothing).

    ``all_namespaces`` is the help of ``-A`` for a command that acts on every
    namespace with it; without it ``-A`` is accepted but :func:`complete` refuses it
    when this is the command run.  ``context`` and ``namespace`` are the help texts
    of ``--context`` and ``-n``.
    """
    _add(parser, all_namespaces or NOT_APPLICABLE, all_namespaces is not None, context, namespace)


def _add(
    parser: argparse.ArgumentParser, all_help: str, applies: bool, context: str, namespace: str
) -> None:
    if "--kubeconfig" in parser._option_string_actions:
        return
    unset = argparse.SUPPRESS
    group = parser.add_argument_group("connection (before or after the command)")
    group.add_argument("--kubeconfig", metavar="PATH", default=unset, help=KUBECONFIG_HELP)
    group.add_argument(
        "--context", dest="contexts", action="append", metavar="NAME", default=unset, help=context
    )
    group.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NAMESPACE",
        default=unset,
        help=namespace,
    )
    group.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=unset,
        help=all_help,
    )
    parser.set_defaults(**{_APPLIES: applies, _COMMAND: parser.prog})


def add_to_every_parser(parser: argparse.ArgumentParser) -> None:
    """Give the connection flags to ``parser`` and every (sub-)command parser below it
    that lacks them, so each one accepts them the same way."""
    for each in parsers(parser):
        if has_commands(each):  # -A may be meant for the command that follows
            _add(each, ALL_NAMESPACES_HELP, False, CONTEXT_HELP, NAMESPACE_HELP)
        else:
            add_connection_flags(each)


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every sub-command parser below it, each once (aliases share one)."""
    seen: set[int] = set()
    pending = [parser]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())


def command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser, below ``parser``, of the command ``args`` were parsed for."""
    prog = getattr(args, _COMMAND, None)
    return next((p for p in parsers(parser) if p.prog == prog), parser)


def complete(args: argparse.Namespace) -> argparse.Namespace:
    """Fill in what was not given: ``kubeconfig``, ``contexts``/``context``,
    ``namespaces``/``namespace`` (the last given is *the* one) and ``all_namespaces``.

    Raises :class:`ConnectionFlagError` for ``-A`` given to a command that has no use
    for it.  Calling it again changes nothing.
    """
    values = vars(args)
    values.setdefault("kubeconfig", None)
    values["contexts"] = list(values.get("contexts") or [])
    values["namespaces"] = list(values.get("namespaces") or [])
    values["context"] = values["contexts"][-1] if values["contexts"] else None
    values["namespace"] = values["namespaces"][-1] if values["namespaces"] else None
    values["all_namespaces"] = bool(values.get("all_namespaces"))
    if values["all_namespaces"] and not values.get(_APPLIES):
        command = values.get(_COMMAND) or "this command"
        raise ConnectionFlagError(
            f"-A/--all-namespaces does not apply to `{command}`; name a namespace with -n"
        )
    return args
