"""The argparse parser of ``kubeops`` and its commands, with kubectl's habits.

* A usage error (a mistyped flag, a missing argument) is one line on stderr naming the
  command's ``--help``, and exit code 1, as kubectl's; argparse's own is a usage block
  and code 2, which ``kubeops inspect`` uses for a failed gate.
* A command's options and arguments may be interleaved: ``kubeops get pods -n shop web``
  names ``web`` as kubectl does, where plain argparse would take ``pods`` alone and
  refuse ``web`` once an option came between them.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, NoReturn, TypeVar, overload

USAGE_ERROR = 1

_N = TypeVar("_N")


class CommandParser(argparse.ArgumentParser):
    """An argparse parser with kubectl's habits; its sub-command parsers are of the same
    class (argparse makes them of the class of their parent)."""

    _interleaving = False

    def error(self, message: str) -> NoReturn:
        """Report a usage error on one line, pointing at the command's help, and exit."""
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    @overload
    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: None = None
    ) -> tuple[argparse.Namespace, list[str]]: ...
    @overload
    def parse_known_args(
        self, args: Iterable[str] | None, namespace: _N
    ) -> tuple[_N, list[str]]: ...
    @overload
    def parse_known_args(self, *, namespace: _N) -> tuple[_N, list[str]]: ...

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """Parse as argparse does; a command without sub-commands takes its arguments
        and options in any order (argparse's intermixed parsing)."""
        if self._interleaving or has_commands(self):
            return super().parse_known_args(args, namespace)
        self._interleaving = True  # the intermixed parsing calls back here, twice
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._interleaving = False


def has_commands(parser: argparse.ArgumentParser) -> bool:
    """Whether ``parser`` has sub-commands (``kubeops``, ``kubeops rollout``...)."""
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
