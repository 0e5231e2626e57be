"""ConfigMap and Secret: create, read, update and delete, with optimistic concurrency.

    python examples/configmap_secret_crud.py --namespace demo

Shows the three things that trip people up:

* Secret ``data`` values are base64 on the wire (``stringData`` takes plain text
  on writes, but reads always return ``data``);
* an update (PUT) carries the ``resourceVersion`` it was read at, so the API
  server refuses it with a 409 Conflict if someone changed the object since;
* the fix is to read again, re-apply the change and retry -- never to drop the
  resourceVersion, which would silently overwrite the other writer's change.

It uses the blocking ``SyncClient``; the async ``Client`` has the same methods.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Callable
from typing import Any

from kubeops.api import SyncClient
from kubeops.config import load_config
from kubeops.errors import Conflict, KubeopsError, NotFound

CONFIGMAP = "app-config"
SECRET = "app-credentials"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    return parser.parse_args()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(data: str) -> str:
    return base64.b64decode(data).decode()


def update(
    client: SyncClient,
    kind: str,
    name: str,
    namespace: str,
    change: Callable[[dict[str, Any]], None],
    *,
    current: dict[str, Any] | None = None,
    attempts: int = 5,
) -> dict[str, Any]:
    """Read-modify-write with retry on conflict (client-go's ``RetryOnConflict``).

    ``change`` edits the object in place; it runs again on a fresh copy after
    each conflict, so it must derive the new state from the object it is given.
    ``current`` is a copy read earlier, used for the first attempt.
    """
    for attempt in range(1, attempts + 1):
        obj = current if current is not None else client.get(kind, name, namespace)
        current = None
        change(obj)
        try:
            # replace() is a PUT of the whole object including metadata.resourceVersion:
            # the server applies it only if the object is still at that version.
            updated = client.replace(obj, namespace)
        except Conflict:
            print(
                f"  attempt {attempt}: conflict -- {kind}/{name} changed since it was read "
                f"(resourceVersion {obj['metadata']['resourceVersion']}); re-reading"
            )
            continue
        print(
            f"  attempt {attempt}: updated {kind}/{name} "
            f"(resourceVersion {updated['metadata']['resourceVersion']})"
        )
        return updated
    raise KubeopsError(
        f"gave up updating {kind}/{name} in namespace {namespace}: {attempts} conflicts in a row"
    )


def configmap_crud(client: SyncClient, namespace: str) -> None:
    print(f"-- ConfigMap {CONFIGMAP}")
    created = client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP},
            "data": {"log_level": "info", "feature_x": "off"},
        },
        namespace,
    )
    print(
        f"created configmap/{CONFIGMAP} (resourceVersion {created['metadata']['resourceVersion']})"
    )

    ours = client.get("configmaps", CONFIGMAP, namespace)
    print(f"read configmap/{CONFIGMAP}: {sorted(ours['data'].items())}")

    # Between our read and our write another writer changes the object (simulated
    # here with a patch), so our copy is stale and the first update must conflict.
    client.patch("configmaps", CONFIGMAP, {"data": {"feature_x": "on"}}, namespace)
    print("another writer set feature_x=on")

    print("setting log_level=debug with retry on conflict:")
    updated = update(
        client,
        "configmaps",
        CONFIGMAP,
        namespace,
        lambda cm: cm["data"].update(log_level="debug"),
        current=ours,
    )
    # Both changes survive: nobody's write was lost.
    print(f"configmap/{CONFIGMAP} now: {sorted(updated['data'].items())}")


def secret_crud(client: SyncClient, namespace: str) -> None:
    print(f"-- Secret {SECRET}")
    client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET},
            "type": "Opaque",
            # `data` values must be base64; `stringData` would take plain text instead.
            "data": {"username": b64("app"), "password": b64("initial-password")},
        },
        namespace,
    )
    print(f"created secret/{SECRET}")

    secret = client.get("secrets", SECRET, namespace)
    decoded = {key: unb64(value) for key, value in secret["data"].items()}
    print(
        f"read secret/{SECRET}: username={decoded['username']} "
        f"password={decoded['password']} (decoded from base64)"
    )

    print("rotating the password with retry on conflict:")
    update(
        client,
        "secrets",
        SECRET,
        namespace,
        lambda s: s["data"].update(password=b64("rotated-password")),
    )
    password = unb64(client.get("secrets", SECRET, namespace)["data"]["password"])
    print(f"read back: password={password}")


def main() -> int:
    args = parse_args()
    try:
        config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
        with SyncClient(config) as client:
            namespace = client.namespace
            print(f"working in namespace {namespace}")
            configmap_crud(client, namespace)
            secret_crud(client, namespace)

            print("-- clean up")
            for kind, name in (("configmaps", CONFIGMAP), ("secrets", SECRET)):
                client.delete(kind, name, namespace)
                try:
                    client.get(kind, name, namespace)
                except NotFound:
                    print(f"deleted {kind}/{name}")
                else:
                    raise KubeopsError(f"{kind}/{name} still exists after its deletion")
    except KubeopsError as err:
        print(f"configmap_secret_crud: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
