"""kubectl's habits in the argument parsing: the connection flags before or after the
command at any depth, ``-A`` only where it means something, ``-o`` wherever a format is
chosen, and usage errors as one line with exit code 1."""

from __future__ import annotations

import argparse

import pytest

from kubeops.cli import connection
from kubeops.cli.main import build_parser, main
from kubeops.cli.parser import CommandParser
from kubeops.errors import KubeopsError


def parse(argv: str) -> argparse.Namespace:
    return connection.complete(build_parser().parse_args(argv.split()))


def test_every_parser_accepts_the_connection_flags_the_same_way() -> None:
    parser = build_parser()
    every = list(connection.parsers(parser))
    assert len(every) > 30  # the whole tree was walked, sub-commands of sub-commands too
    for each in every:
        flags = each._option_string_actions
        for option in ("--kubeconfig", "--context", "-n", "--namespace", "-A", "--all-namespaces"):
            assert option in flags, f"{each.prog} lacks {option}"
        assert flags["--context"].dest == "contexts"
        assert flags["-n"].dest == "namespaces"
        assert all(flags[o].default is argparse.SUPPRESS for o in ("--kubeconfig", "-n", "-A"))


@pytest.mark.parametrize(
    ("argv", "kubeconfig", "context", "namespace"),
    [
        ("--kubeconfig k.yaml get pods", "k.yaml", None, None),
        ("get --kubeconfig k.yaml pods", "k.yaml", None, None),
        ("get pods --kubeconfig k.yaml", "k.yaml", None, None),
        ("--context prod inspect", None, "prod", None),
        ("inspect --context prod", None, "prod", None),
        ("inspect serve --context x --once", None, "x", None),
        ("--context x inspect serve --once", None, "x", None),
        ("-n shop rollout status deploy/web", None, None, "shop"),
        ("rollout -n shop status deploy/web", None, None, "shop"),
        ("rollout status deploy/web -n shop", None, None, "shop"),
        ("--namespace shop logs deploy/web", None, None, "shop"),
        ("logs deploy/web --namespace=shop --context=c", None, "c", "shop"),
        ("--kubeconfig a -n x create -n y secret generic s", "a", None, "y"),
        ("auth --context c can-i get pods", None, "c", None),
        ("--context a get pods --context b", None, "b", None),  # the nearest wins, as in kubectl
        ("get pods --context a --context b", None, "b", None),  # the last wins
    ],
)
def test_connection_flags_before_or_after_the_command(
    argv: str, kubeconfig: str | None, context: str | None, namespace: str | None
) -> None:
    args = parse(argv)
    assert (args.kubeconfig, args.context, args.namespace) == (kubeconfig, context, namespace)


def test_a_flag_given_above_survives_a_command_that_does_not_repeat_it() -> None:
    args = parse("--kubeconfig k.yaml --context prod -n shop -A get pods -o wide")
    assert (args.kubeconfig, args.context, args.namespace) == ("k.yaml", "prod", "shop")
    assert args.all_namespaces is True
    assert args.output == "wide"


def test_inspect_keeps_every_context_and_namespace_given() -> None:
    args = parse("inspect --context a --context b -n x -n y")
    assert (args.contexts, args.namespaces) == (["a", "b"], ["x", "y"])
    assert parse("--context a inspect").contexts == ["a"]


@pytest.mark.parametrize(
    "argv",
    [
        "-A get pods",
        "get pods -A",
        "--all-namespaces watch pods",
        "events -A",
        "-A inspect",
        "inspect -A",
        "inspect serve -A --once",
        "auth can-i get pods -A",
        "auth -A who-can get pods",
        "auth matrix -A",
        "wait -A deploy --all --for delete",
    ],
)
def test_all_namespaces_where_a_command_looks_across_namespaces(argv: str) -> None:
    assert parse(argv).all_namespaces is True


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ("-A logs web", "kubeops logs"),
        ("rollout -A status deploy/web", "kubeops rollout status"),
        ("delete pod web -A", "kubeops delete"),
        ("-A create configmap c", "kubeops create configmap"),
        ("testenv status --dir x -A", "kubeops testenv status"),
    ],
)
def test_all_namespaces_is_refused_where_it_means_nothing(argv: str, command: str) -> None:
    with pytest.raises(KubeopsError, match=f"does not apply to `{command}`"):
        parse(argv)


def test_every_parser_is_a_command_parser() -> None:
    for each in connection.parsers(build_parser()):
        assert isinstance(each, CommandParser), each.prog


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("get pods -n shop web api", {"kind": "pods", "names": ["web", "api"]}),
        ("get -n shop pods web -o name", {"kind": "pods", "names": ["web"], "output": "name"}),
        ("delete pod a -n shop b --wait", {"kind": "pod", "names": ["a", "b"], "wait": True}),
        ("rollout status deploy/a -n shop deploy/b", {"targets": ["deploy/a", "deploy/b"]}),
        (
            "rollout set-image deploy/web -n shop app=app:2",
            {"targets": ["deploy/web", "app=app:2"]},
        ),
        ("events pod -n shop web", {"kind": "pod", "name": "web"}),
        ("create configmap -n shop cfg --from-literal a=b", {"name": "cfg"}),
        ("auth can-i -n shop get pods", {"verb": "get", "resource": "pods"}),
        ("logs -n shop web -c app --tail 3", {"target": "web", "container": "app", "tail": 3}),
    ],
)
def test_a_command_takes_its_options_between_its_arguments(
    argv: str, expected: dict[str, object]
) -> None:
    args = parse(argv)
    assert args.namespace == "shop"
    assert {key: getattr(args, key) for key in expected} == expected


def test_no_flag_means_the_defaults() -> None:
    args = parse("get pods")
    assert (args.kubeconfig, args.context, args.namespace, args.all_namespaces) == (
        None,
        None,
        None,
        False,
    )
    assert (args.contexts, args.namespaces) == ([], [])
    assert connection.complete(args) is args  # again: nothing changes
    assert args.contexts == []


@pytest.mark.parametrize("flag", ["-o", "--output", "--format"])
def test_inspect_chooses_its_format_with_o(flag: str) -> None:
    assert parse(f"inspect {flag} json").format == ["json"]
    assert parse(f"inspect {flag} html --out r.html").format == ["html"]
    assert parse(f"inspect -o html {flag} json --output-dir d").format == ["html", "json"]


def test_every_command_that_chooses_a_format_does_it_with_o() -> None:
    for each in connection.parsers(build_parser()):
        flags = each._option_string_actions
        if "--format" in flags or "--output" in flags:
            assert flags.get("-o") is flags.get("--output"), each.prog
            assert "-o" in flags, each.prog


def test_a_usage_error_is_one_line_with_exit_code_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["get", "--bogus", "pods"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == "kubeops get: error: unrecognized arguments: --bogus (see 'kubeops get --help')\n"
    with pytest.raises(SystemExit) as exited:
        main(["rollout", "status", "deploy/web", "-o", "yaml"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("kubeops rollout status: error: argument -o/--output: invalid choice")
    assert err.count("\n") == 1


def test_all_namespaces_where_it_means_nothing_is_one_line_with_exit_code_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["-A", "logs", "web"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "kubeops: error: -A/--all-namespaces does not apply to `kubeops logs`; "
        "name a namespace with -n\n"
    )
