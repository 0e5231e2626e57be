"""The command line builds only the group of the command it names; the table of which
module registers which command is held to what the modules really register."""

from __future__ import annotations

import argparse
import importlib

import pytest

from kubeops.cli.main import GROUPS, build_parser
from kubeops.cli.parser import CommandParser

ALL_COMMANDS = [command for commands in GROUPS.values() for command in commands]


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


@pytest.mark.parametrize("module", list(GROUPS))
def test_each_module_registers_the_commands_the_table_gives_it(module: str) -> None:
    groups = CommandParser(prog="k").add_subparsers(dest="command")
    importlib.import_module(f"kubeops.cli.{module}").register(groups)
    assert tuple(groups.choices) == GROUPS[module]


def test_without_a_command_line_every_command_is_built() -> None:
    assert _commands(build_parser()) == ALL_COMMANDS


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get", "pods", "-A"], GROUPS["resources"]),
        (["--context", "logs", "-n", "drain", "get", "pods"], GROUPS["resources"]),
        (["--kubeconfig=k", "-nshop", "rollout", "status", "deploy/web"], GROUPS["rollout"]),
        (["-h", "get"], tuple(ALL_COMMANDS)),
        (["bogus"], tuple(ALL_COMMANDS)),
        ([], tuple(ALL_COMMANDS)),
        (["--version"], ()),
    ],
)
def test_a_command_line_builds_the_group_it_names(
    argv: list[str], expected: tuple[str, ...]
) -> None:
    assert tuple(_commands(build_parser(argv))) == expected


def test_a_partly_built_parser_reads_the_line_as_the_full_one() -> None:
    argv = ["--context", "logs", "get", "pods", "-n", "shop", "-o", "name"]
    partial, full = build_parser(argv).parse_args(argv), build_parser().parse_args(argv)
    assert vars(partial) == vars(full) | {"handler": vars(partial)["handler"]}
    assert (partial.command, partial.contexts, partial.namespaces) == ("get", ["logs"], ["shop"])
