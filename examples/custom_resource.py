"""Define a custom resource (a CRD), wait until it is served, then use it two ways:
dynamically, by kind name, and through a small typed declaration.

    python examples/custom_resource.py --namespace demo

The CRD declares a namespaced ``Backup`` kind in the group
``examples.kubeops.dev``.  The dynamic part names it the way kubectl users do
(``backups``, the short name ``bk``, or the object's apiVersion and kind) and
kubeops finds it by discovery.  The typed part declares a ``TypedDict`` for the
object and a ``ResourceType`` for where it lives, so no discovery is needed and
a type checker knows the fields.

Everything is applied server-side, so the program can run again; the objects
are left in place for you to look at (``kubeops get backups -n NAMESPACE``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, cast

from kubeops.api import Client, ResourceType, wait_for_crd_established
from kubeops.config import load_config
from kubeops.errors import KubeopsError

GROUP = "examples.kubeops.dev"
FIELD_MANAGER = "kubeops-example"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"backups.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {
            "kind": "Backup",
            "plural": "backups",
            "singular": "backup",
            "shortNames": ["bk"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                # status is a subresource: writes to the object ignore it, and
                # controllers write it through .../status.
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["schedule"],
                                "properties": {
                                    "schedule": {"type": "string"},
                                    "retention": {"type": "integer", "minimum": 1, "default": 7},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "phase": {"type": "string"},
                                    "lastRun": {"type": "string", "format": "date-time"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


# -- the typed declaration ------------------------------------------------------------------
# A TypedDict costs nothing at run time: the object is still the plain dict the
# API server sent, but a type checker now knows its fields.


class BackupSpec(TypedDict, total=False):
    schedule: Required[str]
    retention: int


class BackupStatus(TypedDict, total=False):
    phase: str
    lastRun: str


class Backup(TypedDict, total=False):
    apiVersion: Required[str]
    kind: Required[str]
    metadata: Required[dict[str, Any]]
    spec: BackupSpec
    status: BackupStatus


# Where Backups live on the wire.  Passed as the kind, it needs no discovery.
BACKUP = ResourceType(GROUP, "v1", "Backup", "backups", namespaced=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the CRD")
    return parser.parse_args()


async def install_crd(client: Client, timeout: float) -> None:
    name = CRD["metadata"]["name"]
    await client.apply(CRD, field_manager=FIELD_MANAGER, force=True)
    print(f"applied customresourcedefinition/{name}")
    # Established: the API server serves the new resource; the kind is in discovery
    # just after.  NamesAccepted=False means it never will be (a clashing plural or
    # kind) and fails at once, as does a CRD not served within the timeout.
    await wait_for_crd_established(client, name, timeout=timeout)
    print(f"customresourcedefinition/{name} is Established")
    resource = await client.resource(f"backups.{GROUP}")
    print(
        f"discovery serves {resource.qualified_name} ({resource.api_version}, kind {resource.kind})"
    )


async def use_dynamically(client: Client, namespace: str) -> None:
    """The dynamic client: objects are dicts, kinds are strings resolved by discovery."""
    print("-- dynamic: kinds by name")
    nightly = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Backup",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 2 * * *"},
    }
    # The object's apiVersion and kind say what it is.
    applied = await client.apply(nightly, namespace, field_manager=FIELD_MANAGER, force=True)
    # The first time, the server fills retention in with the schema's default;
    # later runs keep whatever another field manager (the patch below) set.
    print(f"applied backup/nightly: retention {applied['spec']['retention']}")
    patched = await client.patch("backups", "nightly", {"spec": {"retention": 14}}, namespace)
    print(f"patched backup/nightly: retention {patched['spec']['retention']}")
    listed = await client.list("bk", namespace)  # the short name from the CRD works too
    print(f"listed {len(listed['items'])} backup(s) by short name bk")


async def use_typed(client: Client, namespace: str) -> None:
    """The typed declaration: the same calls, with BACKUP as the kind and Backup as the type."""
    print("-- typed: TypedDict + ResourceType")
    weekly: Backup = {
        "apiVersion": BACKUP.api_version,
        "kind": BACKUP.kind,
        "metadata": {"name": "weekly"},
        "spec": {"schedule": "0 3 * * 0", "retention": 8},
    }
    await client.apply(weekly, namespace, field_manager=FIELD_MANAGER, force=True)
    # The client returns plain dicts; cast() tells the type checker what this one is.
    got = cast(Backup, await client.get(BACKUP, "weekly", namespace))
    print(f"got backup/weekly: schedule {got['spec']['schedule']!r}")

    # status is a subresource: write it through .../status.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status: BackupStatus = {"phase": "Succeeded", "lastRun": now}
    await client.patch(BACKUP, "weekly", {"status": status}, namespace, subresource="status")
    print("set backup/weekly status: phase Succeeded")

    backups = [cast(Backup, item) for item in (await client.list(BACKUP, namespace))["items"]]
    for backup in sorted(backups, key=lambda b: str(b["metadata"]["name"])):
        spec, phase = backup["spec"], backup.get("status", {}).get("phase", "-")
        print(
            f"  {backup['metadata']['name']}: schedule {spec['schedule']!r}, "
            f"retention {spec.get('retention')}, phase {phase}"
        )


async def run(args: argparse.Namespace) -> None:
    config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
    async with Client(config) as client:
        namespace = client.namespace
        print(f"working in namespace {namespace}")
        await install_crd(client, args.timeout)
        await use_dynamically(client, namespace)
        await use_typed(client, namespace)
        print(f"done; the backups are left in namespace {namespace}")


def main() -> int:
    args = parse_args()
    try:
        asyncio.run(run(args))
    except KubeopsError as err:
        print(f"custom_resource: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
