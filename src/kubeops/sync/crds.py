"""The sync API as CustomResourceDefinitions: ``ClusterSyncPolicy``, ``MemberCluster``, ``SyncWork``.

The schemas say everything the API server can check, so a bad policy is
refused at ``kubectl apply`` with a message naming the field instead of
surfacing later as a controller error: enums and defaults, sizes, and the CEL
rules (``x-kubernetes-validations``) that relate fields to each other.  Lists
and strings that CEL rules walk carry ``maxItems``/``maxLength`` so the
server's cost estimate stays inside its budget.  Only ``SyncWork``'s
``spec.manifest`` and a JSON patch's ``value`` keep unknown fields: they hold
arbitrary objects.
"""

from __future__ import annotations

import copy
from typing import Any

from kubeops.sync.model import GROUP, MEMBER_KIND, POLICY_KIND, SYSTEM_NAMESPACE, VERSION, WORK_KIND

Schema = dict[str, Any]

POLICY_PLURAL = "clustersyncpolicies"
MEMBER_PLURAL = "memberclusters"
WORK_PLURAL = "syncworks"
POLICY_CRD = f"{POLICY_PLURAL}.{GROUP}"
MEMBER_CRD = f"{MEMBER_PLURAL}.{GROUP}"
WORK_CRD = f"{WORK_PLURAL}.{GROUP}"
CATEGORIES = ["kubeops", "sync"]

NAME_MAX = 253
"""A DNS subdomain: the longest object (and cluster) name."""
MEMBER_NAME_MAX = 48
"""``kubeops-member-<name>`` must still be a namespace name (63 characters)."""
LIST_MAX = 64
"""Target lists and override lists: CEL walks them, so they are bounded."""
FORBIDDEN_PATCH_PATHS = ("/metadata/name", "/metadata/namespace", "/kind", "/apiVersion")
"""JSON patch paths an override may not touch: they would change which object is written."""


def _string(max_length: int = NAME_MAX, **extra: Any) -> Schema:
    return {"type": "string", "maxLength": max_length, **extra}


def _names(description: str) -> Schema:
    return {
        "type": "array",
        "description": description,
        "maxItems": LIST_MAX,
        "items": _string(minLength=1),
        "x-kubernetes-list-type": "set",
    }


def _string_map(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string"},
    }


def _count(description: str) -> Schema:
    return {"type": "integer", "format": "int32", "minimum": 0, "description": description}


def _time(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def _enum(values: tuple[str, ...], default: str, description: str) -> Schema:
    return {"type": "string", "enum": list(values), "default": default, "description": description}


def label_selector(description: str) -> Schema:
    """A ``metav1.LabelSelector`` schema (matchLabels and matchExpressions)."""
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": _string(317, minLength=1),
                        "operator": {
                            "type": "string",
                            "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                        },
                        "values": {"type": "array", "items": {"type": "string"}},
                    },
                    "x-kubernetes-validations": [
                        {
                            "rule": "self.operator in ['In', 'NotIn'] ? "
                            "has(self.values) && size(self.values) > 0 : "
                            "!has(self.values) || size(self.values) == 0",
                            "message": "matchExpressions[].values: In and NotIn need values, "
                            "Exists and DoesNotExist take none",
                        }
                    ],
                },
            },
        },
    }


def conditions_schema() -> Schema:
    """``status.conditions``: the usual ``metav1.Condition`` list, keyed by type."""
    return {
        "type": "array",
        "description": "The latest observations of the object's state.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {
                "type": _string(316, minLength=1),
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "reason": _string(1024),
                "message": _string(32768),
                "lastTransitionTime": _time("When status last changed."),
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            },
        },
    }


def resource_selector() -> Schema:
    """One ``spec.resources`` entry: a kind, and which of its objects."""
    return {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "apiGroup": _string(
                default="", description='The API group; "" (the default) is the core group.'
            ),
            "kind": _string(63, minLength=1, description="The kind, as in the object's `kind`."),
            "namespaces": _names("Only objects in these namespaces; empty: every namespace."),
            "names": _names("Only objects of these names; empty: every name."),
            "matchLabels": _string_map("Only objects with these labels."),
            "labelSelector": label_selector("Only objects this selector matches."),
        },
        "x-kubernetes-validations": [
            {
                "rule": "!(has(self.matchLabels) && has(self.labelSelector))",
                "message": "matchLabels and labelSelector: give one of them, not both",
                "reason": "FieldValueForbidden",
            }
        ],
    }


def json_patch_operation() -> Schema:
    """One RFC 6902 operation of an override; it may not rename or re-kind the object."""
    forbidden = ", ".join(f"'{p}'" for p in FORBIDDEN_PATCH_PATHS)
    touches = (
        "{field} == '' || {field} == '/metadata' || "
        f"[{forbidden}].exists(p, {{field}} == p || {{field}}.startsWith(p + '/'))"
    )
    shown = ", ".join(FORBIDDEN_PATCH_PATHS)
    return {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {
                "type": "string",
                "enum": ["add", "remove", "replace", "move", "copy", "test"],
            },
            "path": _string(1024, pattern="^(/.*)?$", description="A JSON pointer."),
            "from": _string(1024, pattern="^(/.*)?$", description="For move and copy."),
            "value": {"x-kubernetes-preserve-unknown-fields": True},
        },
        "x-kubernetes-validations": [
            {
                "rule": "!(" + touches.format(field="self.path") + ")",
                "message": f"jsonPatch[].path may not touch {shown} (nor the whole metadata)",
                "reason": "FieldValueForbidden",
            },
            {
                "rule": "!has(self.from) || !(" + touches.format(field="self.from") + ")",
                "message": f"jsonPatch[].from may not move {shown} (nor the whole metadata)",
                "reason": "FieldValueForbidden",
            },
            {
                "rule": "self.op in ['move', 'copy'] ? has(self.from) : true",
                "message": "jsonPatch[].from is required for move and copy",
                "reason": "FieldValueRequired",
            },
        ],
    }


def override_schema() -> Schema:
    """One ``spec.overrides`` entry: changes for some targets (and some objects)."""
    return {
        "type": "object",
        "properties": {
            "targetClusters": _names(
                "Targets this override applies to; with targetSelector empty too: every target."
            ),
            "targetSelector": label_selector("Targets (MemberCluster labels) it applies to."),
            "resources": {
                "type": "array",
                "maxItems": LIST_MAX,
                "description": "Objects it applies to; empty: every synced object.",
                "items": resource_selector(),
            },
            "replicas": {"type": "integer", "format": "int32", "minimum": 0},
            "image": _string(1024, minLength=1, description="For every container."),
            "containerImages": {
                "type": "object",
                "description": "Image per container name.",
                "additionalProperties": _string(1024, minLength=1),
            },
            "labels": _string_map("Labels set on the target object."),
            "annotations": _string_map("Annotations set on the target object."),
            "jsonPatch": {
                "type": "array",
                "maxItems": LIST_MAX,
                "description": "RFC 6902 operations, applied after the other overrides.",
                "items": json_patch_operation(),
            },
        },
    }


def policy_schema() -> Schema:
    """The OpenAPI v3 schema of ``ClusterSyncPolicy``."""
    spec: Schema = {
        "type": "object",
        "required": ["sourceCluster", "resources"],
        "properties": {
            "sourceCluster": _string(
                minLength=1, description="The MemberCluster objects are read from."
            ),
            "targetClusters": _names("MemberClusters the objects are written to."),
            "targetSelector": label_selector("MemberClusters (by label) written to."),
            "resources": {
                "type": "array",
                "minItems": 1,
                "maxItems": LIST_MAX,
                "description": "What to sync.",
                "items": resource_selector(),
            },
            "overrides": {
                "type": "array",
                "maxItems": LIST_MAX,
                "description": "Per-target changes, applied in order.",
                "items": override_schema(),
            },
            "conflictResolution": _enum(
                ("Abort", "Overwrite", "Adopt"),
                "Abort",
                "What to do with a target object the sync did not create.",
            ),
            "deletion": _enum(
                ("Prune", "Orphan"), "Prune", "What to do on targets when a source object goes."
            ),
            "drift": _enum(
                ("Correct", "Report"), "Correct", "What to do when a target object drifted."
            ),
            "paused": {"type": "boolean", "default": False, "description": "Write nothing."},
        },
        "x-kubernetes-validations": [
            {
                "rule": "(has(self.targetClusters) && size(self.targetClusters) > 0) "
                "|| has(self.targetSelector)",
                "message": "spec.targetClusters or spec.targetSelector: name at least one target",
                "reason": "FieldValueRequired",
            },
            {
                "rule": "!has(self.targetClusters) || !(self.sourceCluster in self.targetClusters)",
                "message": "spec.targetClusters must not name spec.sourceCluster",
                "fieldPath": ".targetClusters",
            },
            {
                "rule": "has(self.targetSelector) || !has(self.overrides) || "
                "self.overrides.all(o, !has(o.targetClusters) || o.targetClusters.all(t, "
                "has(self.targetClusters) && t in self.targetClusters))",
                "message": "spec.overrides[].targetClusters must be among spec.targetClusters",
                "fieldPath": ".overrides",
            },
        ],
    }
    target: Schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _string(),
            "mode": {"type": "string", "enum": ["Push", "Pull"]},
            "desired": _count("Objects the policy puts on this target."),
            "inSync": _count("Objects that match the desired ones."),
            "drifted": _count("Objects changed on the target (drift: Report)."),
            "conflicts": _count("Objects the sync did not create and leaves alone."),
            "failed": _count("Objects whose last write failed."),
            "pending": _count("Objects not written yet."),
            "lastError": _string(32768),
            "lastSyncTime": _time("When this target was last written or confirmed."),
        },
    }
    status: Schema = {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "conditions": conditions_schema(),
            "targets": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": target,
            },
        },
    }
    return _root(spec, status, required_spec=True)


def member_schema() -> Schema:
    """The OpenAPI v3 schema of ``MemberCluster``."""
    spec: Schema = {
        "type": "object",
        "default": {},
        "properties": {
            "syncMode": _enum(
                ("Push", "Pull"),
                "Push",
                "Push: the hub writes to the member; Pull: an agent beside it fetches its work.",
            ),
            "kubeconfigSecretRef": {
                "type": "object",
                "required": ["name"],
                "description": "The hub Secret holding the member's kubeconfig (Push).",
                "properties": {
                    "namespace": _string(63, default=SYSTEM_NAMESPACE),
                    "name": _string(minLength=1),
                    "key": _string(default="kubeconfig", minLength=1),
                },
            },
            "rateLimit": {
                "type": "object",
                "default": {},
                "description": "Client-side rate limit of the hub's requests to this member.",
                "properties": {
                    "qps": {
                        "type": "number",
                        "default": 200,
                        "exclusiveMinimum": True,
                        "minimum": 0,
                    },
                    "burst": {"type": "integer", "format": "int32", "default": 400, "minimum": 1},
                },
            },
        },
    }
    agent: Schema = {
        "type": "object",
        "description": "Written by the Pull agent.",
        "properties": {
            "identity": _string(),
            "heartbeatTime": _time("The agent's last report."),
            "objects": _count("Objects the agent holds."),
            "inSync": _count("Of those, in sync."),
            "drifted": _count("Of those, drifted."),
            "failed": _count("Of those, failed."),
        },
    }
    status: Schema = {
        "type": "object",
        "properties": {
            "conditions": conditions_schema(),
            "kubernetesVersion": _string(256),
            "lastProbeTime": _time("When the hub last probed the member."),
            "agent": agent,
        },
    }
    root = _root(spec, status, required_spec=False)
    root["x-kubernetes-validations"] = [
        {
            # On the root: the spec's own default ({}) is checked before its fields'
            # defaults apply, so a rule on spec would see no syncMode.
            "rule": "has(self.spec) && (self.spec.syncMode != 'Push' "
            "|| has(self.spec.kubeconfigSecretRef))",
            "message": "spec.kubeconfigSecretRef is required when spec.syncMode is Push",
            "reason": "FieldValueRequired",
            "fieldPath": ".spec",
        },
        {
            "rule": f"size(self.metadata.name) <= {MEMBER_NAME_MAX} && "
            "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
            "message": f"metadata.name must be a DNS label of at most {MEMBER_NAME_MAX} "
            "characters (it names the hub namespace kubeops-member-<name>)",
            "reason": "FieldValueInvalid",
        },
    ]
    return root


def work_schema() -> Schema:
    """The OpenAPI v3 schema of ``SyncWork``."""
    source: Schema = {
        "type": "object",
        "required": ["cluster", "kind", "name"],
        "properties": {
            "cluster": _string(minLength=1),
            "group": _string(default=""),
            "kind": _string(63, minLength=1),
            "namespace": _string(63),
            "name": _string(minLength=1),
        },
    }
    spec: Schema = {
        "type": "object",
        "required": ["policy", "member", "source", "manifest"],
        "properties": {
            "policy": _string(minLength=1),
            "member": _string(MEMBER_NAME_MAX, minLength=1),
            "source": source,
            "manifest": {
                "type": "object",
                "description": "The final desired object (overrides, marks and hash applied).",
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "conflictResolution": _enum(("Abort", "Overwrite", "Adopt"), "Abort", "As the policy."),
            "deletion": _enum(("Prune", "Orphan"), "Prune", "As the policy."),
            "drift": _enum(("Correct", "Report"), "Correct", "As the policy."),
        },
    }
    status: Schema = {
        "type": "object",
        "properties": {
            "state": {
                "type": "string",
                "enum": ["InSync", "Drifted", "Conflict", "Failed", "Pending"],
            },
            "message": _string(32768),
            "appliedHash": _string(64),
            "observedGeneration": {"type": "integer", "format": "int64"},
            "lastSyncTime": _time("When the agent last wrote or confirmed the object."),
        },
    }
    return _root(spec, status, required_spec=True)


def _root(spec: Schema, status: Schema, *, required_spec: bool) -> Schema:
    root: Schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if required_spec:
        root["required"] = ["spec"]
    return root


def _condition_column(name: str, condition: str) -> Schema:
    return {
        "name": name,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="{condition}")].status',
    }


_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _crd(
    kind: str,
    plural: str,
    short: str,
    scope: str,
    schema: Schema,
    columns: list[Schema],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "kubeops-sync"},
        },
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [*columns, _AGE],
                }
            ],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The three CustomResourceDefinitions of the sync API (fresh copies, safe to change)."""
    return copy.deepcopy(_CRDS)


_CRDS = [
    _crd(
        POLICY_KIND,
        POLICY_PLURAL,
        "csp",
        "Cluster",
        policy_schema(),
        [
            {"name": "Source", "type": "string", "jsonPath": ".spec.sourceCluster"},
            {"name": "Targets", "type": "string", "jsonPath": ".spec.targetClusters"},
            _condition_column("Ready", "Ready"),
        ],
    ),
    _crd(
        MEMBER_KIND,
        MEMBER_PLURAL,
        "mc",
        "Cluster",
        member_schema(),
        [
            {"name": "Mode", "type": "string", "jsonPath": ".spec.syncMode"},
            _condition_column("Ready", "Ready"),
            {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
        ],
    ),
    _crd(
        WORK_KIND,
        WORK_PLURAL,
        "sw",
        "Namespaced",
        work_schema(),
        [
            {"name": "Policy", "type": "string", "jsonPath": ".spec.policy"},
            {"name": "Kind", "type": "string", "jsonPath": ".spec.source.kind"},
            {"name": "Object", "type": "string", "jsonPath": ".spec.source.name"},
            {"name": "State", "type": "string", "jsonPath": ".status.state"},
        ],
    ),
]
