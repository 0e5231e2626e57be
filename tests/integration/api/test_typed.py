"""A CRD declared in a few lines with a TypedDict, used through both APIs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, TypedDict

from mypy import api as mypy_api

from kubeops.api import Client, SyncClient, TypedResource
from kubeops.api.manifest import wait_for_crd_established


class ThingSpec(TypedDict):
    size: int


class Thing(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: dict[str, Any]
    spec: ThingSpec


Things = TypedResource[Thing]("typed.example.com/v1", "Thing")

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.typed.example.com"},
    "spec": {
        "group": "typed.example.com",
        "names": {"kind": "Thing", "plural": "things", "singular": "thing"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer"}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


async def _established(client: Client) -> None:
    await client.apply(CRD)
    await wait_for_crd_established(client, "things.typed.example.com", timeout=30)


async def test_typed_resource_round_trip_async(client: Client) -> None:
    await _established(client)
    things = Things.on(client)
    thing: Thing = {
        "apiVersion": "typed.example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t1"},
        "spec": {"size": 1},
    }
    created = await things.create(thing)
    assert created["spec"]["size"] == 1
    patched = await things.patch("t1", {"spec": {"size": 5}})
    assert patched["spec"]["size"] == 5
    assert [t["metadata"]["name"] for t in await things.list()] == ["t1"]
    await things.delete("t1")


def test_typed_resource_round_trip_sync(sync_client: SyncClient) -> None:
    sync_client.run(_established(sync_client.client))
    things = Things.on(sync_client)
    things.apply(
        {
            "apiVersion": "typed.example.com/v1",
            "kind": "Thing",
            "metadata": {"name": "t2"},
            "spec": {"size": 2},
        }
    )
    assert things.get("t2")["spec"] == {"size": 2}


def test_the_type_checker_sees_the_typeddict(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        textwrap.dedent(
            """
            from typing import Any, TypedDict
            from kubeops.api import Client, TypedResource

            class Spec(TypedDict):
                size: int

            class Thing(TypedDict, total=False):
                spec: Spec

            Things = TypedResource[Thing]("typed.example.com/v1", "Thing")

            async def use(client: Client) -> None:
                thing = await Things.on(client).get("t")
                size: int = thing["spec"]["size"]
                wrong: str = thing["spec"]["size"]
            """
        )
    )
    out, _, status = mypy_api.run(
        [str(sample), "--strict", "--no-incremental", "--cache-dir=/dev/null"]
    )
    assert status == 1
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1
    assert (
        'Incompatible types in assignment (expression has type "int", variable has type "str")'
        in errors[0]
    )
