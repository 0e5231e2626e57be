"""``kubeops create configmap|secret``: ConfigMaps and Secrets from literals, files and env
files, TLS and docker-registry Secrets, with kubectl's flags and output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import run
from kubeops.cli.connection import add_connection_flags, complete

if TYPE_CHECKING:
    from kubeops.api import Client, Object

Builder = Callable[[argparse.Namespace], "Object"]


def register(groups: Any) -> None:
    """Add ``kubeops create configmap|secret`` to the command groups."""
    create = groups.add_parser("create", help="create a ConfigMap or Secret (like kubectl create)")
    kinds = create.add_subparsers(dest="kind", metavar="KIND", required=True)

    configmap = kinds.add_parser(
        "configmap", aliases=["cm"], help="a ConfigMap from literals, files and env files"
    )
    configmap.add_argument("name")
    _add_sources(configmap)
    _add_common(configmap)
    configmap.set_defaults(handler=_command(_configmap))

    secret = kinds.add_parser("secret", help="a Secret: generic, tls or docker-registry")
    types = secret.add_subparsers(dest="secret_type", metavar="TYPE", required=True)

    generic = types.add_parser("generic", help="a Secret from literals, files and env files")
    generic.add_argument("name")
    _add_sources(generic)
    generic.add_argument("--type", help="the Secret's type (default: Opaque)")
    _add_common(generic)
    generic.set_defaults(handler=_command(_generic))

    tls = types.add_parser("tls", help="a kubernetes.io/tls Secret from a certificate and its key")
    tls.add_argument("name")
    tls.add_argument("--cert", required=True, help="PEM certificate (chain) file")
    tls.add_argument("--key", required=True, help="PEM private key file matching the certificate")
    _add_common(tls)
    tls.set_defaults(handler=_command(_tls))

    registry = types.add_parser(
        "docker-registry", help="a kubernetes.io/dockerconfigjson Secret for one registry"
    )
    registry.add_argument("name")
    registry.add_argument("--docker-server", default="https://index.docker.io/v1/")
    registry.add_argument("--docker-username", required=True)
    registry.add_argument("--docker-password", required=True)
    registry.add_argument("--docker-email")
    _add_common(registry)
    registry.set_defaults(handler=_command(_docker_registry))


def _add_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-literal", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument(
        "--from-file",
        action="append",
        default=[],
        metavar="[KEY=]PATH",
        help="a file (key: its name, or KEY) or a directory's regular files; repeatable",
    )
    parser.add_argument(
        "--from-env-file",
        action="append",
        default=[],
        metavar="PATH",
        help="KEY=VALUE lines (# comments and blank lines ignored); repeatable",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        choices=("none", "client", "server"),
        default="none",
        help="client: print the object without sending it; server: let the server check it",
    )
    parser.add_argument("-o", "--output", choices=("json", "yaml", "name"))
    parser.add_argument("--field-manager", default="kubeops")
    add_connection_flags(parser)


def _configmap(args: argparse.Namespace) -> Object:
    from kubeops.ops import config_data

    return config_data.configmap(
        args.name,
        namespace=args.namespace,
        literals=args.from_literal,
        files=args.from_file,
        env_files=args.from_env_file,
    )


def _generic(args: argparse.Namespace) -> Object:
    from kubeops.ops import config_data

    return config_data.secret(
        args.name,
        namespace=args.namespace,
        type=args.type,
        literals=args.from_literal,
        files=args.from_file,
        env_files=args.from_env_file,
    )


def _tls(args: argparse.Namespace) -> Object:
    from kubeops.ops import config_data

    return config_data.tls_secret(args.name, args.cert, args.key, namespace=args.namespace)


def _docker_registry(args: argparse.Namespace) -> Object:
    from kubeops.ops import config_data

    return config_data.docker_registry_secret(
        args.name,
        server=args.docker_server,
        username=args.docker_username,
        password=args.docker_password,
        email=args.docker_email,
        namespace=args.namespace,
    )


def _command(build: Builder) -> Callable[[argparse.Namespace], int]:
    """Build the object from the flags first (bad input fails before any connection), then
    print it (client dry run) or send it."""

    def command(args: argparse.Namespace) -> int:
        obj = build(complete(args))
        if args.dry_run == "client":
            _print(obj, args.output, " (dry run)")
            return 0

        async def send(client: Client, args: argparse.Namespace) -> int:
            from kubeops.ops import config_data

            created = await config_data.create(
                client,
                obj,
                namespace=args.namespace,
                dry_run=args.dry_run == "server",
                field_manager=args.field_manager,
            )
            _print(created, args.output, " (server dry run)" if args.dry_run == "server" else "")
            return 0

        return run(send)(args)

    return command


def _print(obj: Object, output: str | None, note: str) -> None:
    name = f"{str(obj.get('kind', '')).lower()}/{obj.get('metadata', {}).get('name', '')}"
    if output == "json":
        import orjson

        sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif output == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(obj, sort_keys=False))
    elif output == "name":
        print(name)
    else:
        print(f"{name} created{note}")
