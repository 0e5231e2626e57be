"""Member clusters as the hub sees them: joining one, connecting to it, probing it.

A Push member's kubeconfig lives in a Secret in ``kubeops-sync`` on the hub;
:func:`connect` reads it and builds a :class:`Client` with the member's own rate
limit, so one slow member cannot use up another's budget.  Whatever is wrong
with the Secret -- missing, no such key, not a kubeconfig -- is one
:class:`MemberError` naming the member and the Secret.  :func:`probe` and
:func:`update_member_status` keep the member's ``Ready`` condition current.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from kubeops.api import Client, RetryPolicy
from kubeops.config import (
    ConfigError,
    Kubeconfig,
    KubeconfigEntry,
    parse_kubeconfig,
    resolve_config,
)
from kubeops.errors import KubeopsError, NotFound
from kubeops.sync.crds import MEMBER_PLURAL
from kubeops.sync.install import PART_OF
from kubeops.sync.model import (
    API_VERSION,
    MEMBER_KIND,
    SYSTEM_NAMESPACE,
    Member,
    PolicyError,
    SyncMode,
    member_from_object,
)
from kubeops.sync.ownership import FIELD_MANAGER
from kubeops.sync.work import format_time

KUBECONFIG_KEY = "kubeconfig"
MEMBER_RESOURCE = f"{MEMBER_PLURAL}.sync.kubeops.io"
READY = "Ready"


class MemberError(PolicyError):
    """A member the hub cannot connect to as configured: the message names it and why."""


def secret_name(member: str) -> str:
    """The hub Secret holding a Push member's kubeconfig."""
    return f"member-{member}"


def join_objects(
    name: str,
    kubeconfig_text: str | None,
    *,
    labels: Mapping[str, str] | None = None,
    mode: SyncMode | str = SyncMode.PUSH,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The Secret (Push only) and the ``MemberCluster`` that register ``name`` on the hub.

    The kubeconfig is parsed first, so a bad file is refused here rather than
    when the controller first connects; ``source`` (its file name) is what
    messages call it.
    """
    mode = SyncMode(mode)
    spec: dict[str, Any] = {"syncMode": mode.value}
    objects: list[dict[str, Any]] = []
    if mode is SyncMode.PUSH:
        if not kubeconfig_text:
            raise MemberError(f"MemberCluster {name!r}: a Push member needs a kubeconfig")
        secret = secret_name(name)
        try:
            parsed = parse_kubeconfig(kubeconfig_text, source or f"(member {name})")
            _check_self_contained(name, parsed)
            resolve_config(parsed)
        except ConfigError as err:
            raise MemberError(f"MemberCluster {name!r}: {err}") from None
        encoded = base64.b64encode(kubeconfig_text.encode()).decode()
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": secret,
                    "namespace": SYSTEM_NAMESPACE,
                    "labels": {**PART_OF, "sync.kubeops.io/member": name},
                },
                "type": "Opaque",
                "data": {KUBECONFIG_KEY: encoded},
            }
        )
        spec["kubeconfigSecretRef"] = {
            "namespace": SYSTEM_NAMESPACE,
            "name": secret,
            "key": KUBECONFIG_KEY,
        }
    member = {
        "apiVersion": API_VERSION,
        "kind": MEMBER_KIND,
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
    }
    member_from_object(member)  # the same checks the controller makes
    return [*objects, member]


_FILE_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


def _check_self_contained(name: str, kubeconfig: Kubeconfig) -> None:
    """The controller reads the kubeconfig far from the files it might name: refuse those."""
    for section, fields in _FILE_FIELDS.items():
        entries: Mapping[str, KubeconfigEntry] = getattr(kubeconfig, section)
        for entry in entries.values():
            for field in fields:
                if entry.fields.get(field):
                    raise MemberError(
                        f"MemberCluster {name!r}: the kubeconfig's {section[:-1]} "
                        f"{entry.name!r} reads {field} from a file; inline it "
                        "(kubectl config view --minify --flatten)"
                    )


async def join(
    hub: Client,
    name: str,
    kubeconfig_text: str | None,
    *,
    labels: Mapping[str, str] | None = None,
    mode: SyncMode | str = SyncMode.PUSH,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Register ``name`` on the hub (server-side apply, so joining again updates it);
    the objects as the server returned them, the Secret without its data (they get
    printed, and a kubeconfig is a credential)."""
    objects = join_objects(name, kubeconfig_text, labels=labels, mode=mode, source=source)
    applied = []
    for obj in objects:
        written = await hub.apply(obj, field_manager=FIELD_MANAGER, force=True)
        if written.get("kind") == "Secret":
            written = {k: v for k, v in written.items() if k not in ("data", "stringData")}
            written["metadata"] = {
                k: v for k, v in written["metadata"].items() if k != "managedFields"
            }
        applied.append(written)
    return applied


async def get_member(hub: Client, name: str) -> Member:
    """The ``MemberCluster`` ``name``, or one :class:`MemberError` when there is none."""
    try:
        obj = await hub.get(MEMBER_RESOURCE, name)
    except NotFound:
        raise MemberError(f"MemberCluster {name!r} not found on the hub") from None
    return member_from_object(obj)


async def list_members(hub: Client) -> list[Member]:
    """Every ``MemberCluster`` on the hub, by name."""
    listed = await hub.list(MEMBER_RESOURCE)
    return sorted((member_from_object(o) for o in listed["items"]), key=lambda m: m.name)


async def connect(hub: Client, member: Member | str, **transport_options: Any) -> Client:
    """A client of ``member`` from its kubeconfig Secret, rate-limited as the member says.

    ``transport_options`` (retry, timeouts, breaker...) go to the :class:`Client`;
    the member's ``qps``/``burst`` apply unless given there.
    """
    if isinstance(member, str):
        member = await get_member(hub, member)
    ref = member.kubeconfig
    where = f"MemberCluster {member.name!r}"
    if ref is None:
        raise MemberError(
            f"{where}: no spec.kubeconfigSecretRef ({member.mode.value} mode); "
            "the hub cannot connect to it"
        )
    secret = f"Secret {ref.namespace}/{ref.name}"
    try:
        found = await hub.get("secrets", ref.name, ref.namespace)
    except NotFound:
        raise MemberError(f"{where}: its kubeconfig {secret} does not exist") from None
    except KubeopsError as err:
        raise MemberError(f"{where}: cannot read its kubeconfig {secret}: {err}") from None
    data = found.get("data") or {}
    if ref.key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise MemberError(f"{where}: {secret} has no key {ref.key!r} (keys: {keys})")
    try:
        text = base64.b64decode(data[ref.key], validate=True)
    except (binascii.Error, ValueError):
        raise MemberError(f"{where}: {secret} key {ref.key!r} is not base64") from None
    try:
        config = resolve_config(parse_kubeconfig(text, f"{secret} key {ref.key}"))
    except ConfigError as err:
        raise MemberError(f"{where}: {err}") from None
    transport_options.setdefault("qps", member.qps)
    transport_options.setdefault("burst", member.burst)
    return Client(config, **transport_options)


async def probe(client: Client, *, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the cluster answers ``/readyz``, and its version (or why it is not ready).

    One try each, bounded by ``timeout``: a probe that retried would hide the outage
    it is there to notice.
    """
    once = client.with_options(timeout=timeout, retry=RetryPolicy(max_retries=0))
    try:
        ready = await once.request("GET", "/readyz", accept="text/plain")
        if ready.text.strip() != "ok":
            return False, f"/readyz says {ready.text.strip()[:200]!r}"
        version = (await once.request("GET", "/version")).json()
    except KubeopsError as err:
        return False, str(err)
    return True, str(version.get("gitVersion") or "")


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    kind: str,
    status: bool | str,
    reason: str,
    message: str,
    *,
    now: datetime.datetime | None = None,
    observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    """``conditions`` with the one of type ``kind`` set; its ``lastTransitionTime``
    moves only when the status changes (as ``meta.SetStatusCondition`` does)."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    updated: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != kind:
            updated.append(dict(existing))
            continue
        found = True
        changed = existing.get("status") != value
        updated.append(
            _condition(kind, value, reason, message, now, observed_generation)
            if changed or not existing.get("lastTransitionTime")
            else {
                **_condition(kind, value, reason, message, now, observed_generation),
                "lastTransitionTime": existing["lastTransitionTime"],
            }
        )
    if not found:
        updated.append(_condition(kind, value, reason, message, now, observed_generation))
    return updated


def _condition(
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: datetime.datetime | None,
    observed_generation: int | None,
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": format_time(now),
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    return condition


def member_status(
    current: Mapping[str, Any],
    ready: bool,
    message: str,
    version: str = "",
    *,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The ``status`` fields the controller writes on a member (pure: ``current`` is the
    member's present status)."""
    now = now or datetime.datetime.now(datetime.UTC)
    reason = "Reachable" if ready else "Unreachable"
    status: dict[str, Any] = {
        "conditions": set_condition(
            current.get("conditions") or [], READY, ready, reason, message, now=now
        ),
        "lastProbeTime": format_time(now),
    }
    if version:
        status["kubernetesVersion"] = version
    return status


async def update_member_status(
    hub: Client, name: str, ready: bool, message: str, version: str = ""
) -> dict[str, Any]:
    """Write the member's ``Ready`` condition, probe time and version (status merge patch)."""
    current = await hub.get(MEMBER_RESOURCE, name)
    status = member_status(current.get("status") or {}, ready, message, version)
    return await hub.patch(
        MEMBER_RESOURCE,
        name,
        {"status": status},
        subresource="status",
        field_manager=FIELD_MANAGER,
    )
