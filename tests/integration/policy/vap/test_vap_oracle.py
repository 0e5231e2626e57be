"""The API server is the oracle for kubeops' ValidatingAdmissionPolicy engine.

Every policy of tests/data/policy/vap/policies is registered on the session
cluster (its binding scoped to this test's two namespaces and, by object label,
to its own cases), every object of tests/data/policy/vap/objects is sent as a
server-side dry run, and kubeops must reach the same answer on each: allowed or
denied, the same Status message and HTTP code, the same Warning headers.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubeops.api import SyncClient
from kubeops.config import load_config, safe_yaml
from kubeops.errors import KubeopsError
from kubeops.policy import vap
from kubeops.policy.context import StaticContext
from kubeops.policy.loader import read_documents
from kubeops.policy.model import GroupVersionKind, GroupVersionResource, Operation, Review
from kubeops.policy.verdict import evaluate
from kubeops.testenv import Cluster, eventually
from kubeops.transport.errors import ApiError

DATA = Path(__file__).parents[3] / "data" / "policy" / "vap"
LABEL = "vap.kubeops.io/policy"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
LONG_MESSAGE = "x" * 6000  # over the API server's 5 KiB limit for messageExpression
VAP_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
BINDING_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclass
class Case:
    """One request of the corpus."""

    policy: str
    file: str
    obj: dict[str, Any]
    operation: Operation = Operation.CREATE
    old: dict[str, Any] | None = None  # the stored object (UPDATE, DELETE)
    old_fields: dict[str, Any] | None = None
    subresource: str = ""
    target: dict[str, Any] | None = None  # the object whose subresource is written
    existing: bool = False  # the object is one the test made (its namespaces)

    @property
    def label(self) -> str:
        meta = self.obj["metadata"]
        return f"{self.file} {self.operation} {meta.get('namespace', '-')}/{meta['name']}"


@dataclass
class Answer:
    """What the API server said, or what kubeops says it would."""

    denied: bool
    code: int = 200
    message: str = ""
    warnings: tuple[str, ...] = ()


class ClusterAuthorizer(StaticContext):
    """The corpus' objects, and the cluster's authorizer (a SubjectAccessReview per check)."""

    def __init__(self, client: SyncClient, objects: list[dict[str, Any]]) -> None:
        super().__init__(objects)
        self.client = client

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        """The cluster's decision on ``attributes`` (a SubjectAccessReview spec)."""
        review = self.client.create(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": dict(attributes),
            }
        )
        status = review.get("status") or {}
        decision = "allowed" if status.get("allowed") else "noOpinion"
        if status.get("denied"):
            decision = "denied"
        return decision, str(status.get("reason") or "")


@dataclass
class Oracle:
    """The registered corpus and what kubeops needs to judge it."""

    client: SyncClient
    policies: list[vap.CelPolicy]
    context: ClusterAuthorizer
    cases: list[Case]
    user: dict[str, Any]


def _substitute(text: str, names: dict[str, str]) -> str:
    for placeholder, value in names.items():
        text = text.replace(placeholder, value)
    return text


def _cases(names: dict[str, str], namespaces: dict[str, str]) -> list[Case]:
    cases: list[Case] = []
    for file in sorted((DATA / "objects").glob("*.yaml")):
        spec = safe_yaml.load(_substitute(file.read_text(), names), str(file))
        defaults = spec.get("defaults") or {}
        for written in spec["cases"]:
            entry = copy.deepcopy(written)
            namespace = namespaces[str(entry.pop("namespace", "A"))]
            meta: dict[str, Any] = {"name": entry.pop("name")}
            if namespace:
                meta["namespace"] = namespace
            meta["labels"] = {**entry.pop("labels", {}), LABEL: spec["policy"]}
            if "annotations" in entry:
                meta["annotations"] = entry.pop("annotations")
            operation = Operation(entry.pop("operation", "CREATE"))
            old_fields = entry.pop("old", None)
            subresource, target = entry.pop("subresource", ""), entry.pop("target", None)
            existing = bool(entry.pop("existing", False))
            if target is not None:
                target = {**target, "metadata": meta}
                meta = {k: v for k, v in meta.items() if k != "labels"}
            obj = {**defaults, **entry, "metadata": meta}
            if old_fields is not None or subresource or existing:
                operation = Operation.UPDATE
            case = Case(spec["policy"], file.name, obj, operation, None, old_fields, subresource)
            case.target, case.existing = target, existing
            cases.append(case)
    return cases


def _stored(case: Case) -> dict[str, Any]:
    """The object to store before an UPDATE or DELETE is sent."""
    if case.operation == Operation.DELETE:
        return copy.deepcopy(case.obj)
    old = copy.deepcopy(case.obj)
    fields = copy.deepcopy(case.old_fields or {})
    meta = fields.pop("metadata", {})
    for key in list(old):
        if key not in ("apiVersion", "kind", "metadata"):
            del old[key]
    old.update(fields)
    old["metadata"] = {**old["metadata"], **meta}
    old["metadata"]["labels"] = {**meta.get("labels", {}), LABEL: case.policy}
    return old


def _scoped(binding: dict[str, Any], namespaces: list[str]) -> None:
    """Limit a binding to this test's namespaces (cluster-scoped objects stay selected
    only by the binding's own object label)."""
    match = binding["spec"].setdefault("matchResources", {})
    selector = match.setdefault("namespaceSelector", {})
    selector.setdefault("matchExpressions", []).append(
        {"key": NAMESPACE_LABEL, "operator": "In", "values": namespaces}
    )


def _served(client: SyncClient, kind: str) -> bool:
    client.refresh_discovery()
    return bool(client.resource(kind))


def _plain(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


@pytest.fixture(scope="module")
def oracle(kube_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    """The corpus registered on the session cluster; everything removed afterwards."""
    suffix = uuid.uuid4().hex[:6]
    namespaces = {"A": f"vap-oracle-{suffix}-a", "B": f"vap-oracle-{suffix}-b", "none": ""}
    labels = {"A": {"tier": "prod", "team": "red"}, "B": {"tier": "dev"}}
    client = SyncClient(load_config(kube_cluster.kubeconfig))
    created: list[str] = []
    try:
        namespace_objects = []
        for key in ("A", "B"):
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespaces[key], "labels": labels[key]},
            }
            namespace_objects.append(client.create(namespace))
            created.append(f"/api/v1/namespaces/{namespaces[key]}")
        crds = [d.value for d in safe_yaml.load_all((DATA / "crds.yaml").read_text(), "crds")]
        for crd in crds:
            client.request(
                "POST", CRD_PATH, body=orjson.dumps(crd), content_type="application/json"
            )
            created.append(f"{CRD_PATH}/{crd['metadata']['name']}")
        for crd in crds:
            kind = f"{crd['spec']['group']}/v1/{crd['spec']['names']['kind']}"
            eventually(partial(_served, client, kind), message=f"{kind} to be served")
        review = client.create(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
        user = review["status"]["userInfo"]
        names = {
            "__NS_A__": namespaces["A"],
            "__NS_B__": namespaces["B"],
            "__USER__": user["username"],
            "__LONG__": LONG_MESSAGE,
        }
        policy_dir = tmp_path_factory.mktemp("vap-policies")
        for file in sorted((DATA / "policies").glob("*.yaml")):
            (policy_dir / file.name).write_text(_substitute(file.read_text(), names))
        found = read_documents([policy_dir])
        for doc in found.bindings:
            _scoped(doc.value, [namespaces["A"], namespaces["B"]])
        policies = vap.load(found.vaps, found.bindings)
        params = [_plain(doc.value) for doc in found.objects]
        for param in params:
            client.create(param)
        cases = _cases(names, namespaces)
        for case in cases:
            if case.target is not None:
                stored = client.create(case.target)
                case.old = client.get(
                    f"{case.target['apiVersion']}/{case.target['kind']}",
                    case.obj["metadata"]["name"],
                    case.obj["metadata"]["namespace"],
                    subresource=case.subresource,
                )
                assert stored["metadata"]["name"] == case.old["metadata"]["name"]
            elif case.existing:
                kind = f"{case.obj['apiVersion']}/{case.obj['kind']}"
                case.old = client.get(kind, case.obj["metadata"]["name"])
            elif case.operation != Operation.CREATE:
                case.old = client.create(_stored(case))
        for doc in found.vaps:
            client.request(
                "POST", VAP_PATH, body=orjson.dumps(doc.value), content_type="application/json"
            )
            created.insert(0, f"{VAP_PATH}/{doc.value['metadata']['name']}")
        for doc in found.bindings:
            client.request(
                "POST", BINDING_PATH, body=orjson.dumps(doc.value), content_type="application/json"
            )
            created.insert(0, f"{BINDING_PATH}/{doc.value['metadata']['name']}")
        context = ClusterAuthorizer(client, [*namespace_objects, *params, *crds])
        yield Oracle(client, policies, context, cases, user)
    finally:
        for path in created:
            with contextlib.suppress(KubeopsError):
                client.request("DELETE", path)
        client.close()


def _review(oracle: Oracle, case: Case) -> Review:
    if case.target is not None:
        return _subresource_review(oracle, case)
    resource = oracle.client.resource(f"{case.obj['apiVersion']}/{case.obj['kind']}")
    obj = case.obj
    if case.operation == Operation.UPDATE and case.old is not None:
        obj = copy.deepcopy(case.obj)
        obj["metadata"]["resourceVersion"] = case.old["metadata"]["resourceVersion"]
    review = Review.of_object(
        obj if case.operation != Operation.DELETE else (case.old or obj),
        operation=case.operation,
        old_object=case.old,
        resource=GroupVersionResource(resource.group, resource.version, resource.plural),
        namespaced=resource.namespaced,
        user_info=oracle.user,
    )
    return dataclasses.replace(review, dry_run=True)


def _subresource_review(oracle: Oracle, case: Case) -> Review:
    assert case.target is not None
    target = oracle.client.resource(f"{case.target['apiVersion']}/{case.target['kind']}")
    meta = case.obj["metadata"]
    return Review(
        operation=Operation.UPDATE,
        object=case.obj,
        old_object=case.old,
        kind=GroupVersionKind.of(case.obj),
        resource=GroupVersionResource(target.group, target.version, target.plural),
        name=meta["name"],
        namespace=meta["namespace"],
        sub_resource=case.subresource,
        user_info=oracle.user,
        dry_run=True,
    )


def expected(oracle: Oracle, review: Review) -> Answer:
    """kubeops' answer, in the API server's words."""
    verdict = evaluate(tuple(oracle.policies), review, oracle.context)
    warnings = tuple(vap.warning_message(v) for v in verdict.warnings)
    if verdict.allowed:
        return Answer(False, warnings=warnings)
    first = verdict.denials[0]
    return Answer(True, vap.status_code(first), vap.status_message(first, review))


_WARNING = re.compile(r'^\d{3} \S+ "(.*)"')


def _warnings(headers: Any) -> tuple[str, ...]:
    values = headers.getall("Warning", []) if hasattr(headers, "getall") else []
    found = []
    for value in values:
        if match := _WARNING.match(value):
            found.append(match.group(1).replace('\\"', '"').replace("\\\\", "\\"))
    return tuple(found)


def observed(oracle: Oracle, case: Case, review: Review) -> Answer:
    """The API server's answer to the dry run of ``case``."""
    meta = case.obj["metadata"]
    namespace = meta.get("namespace")
    written = case.target or case.obj
    resource = oracle.client.resource(f"{written['apiVersion']}/{written['kind']}")
    method, path = "POST", resource.path(namespace)
    body: bytes | None = orjson.dumps(review.object)
    if case.target is not None:
        method, path = "PUT", resource.path(namespace, meta["name"], case.subresource)
    elif case.operation == Operation.UPDATE:
        # Controllers may have written the stored object's status since: send the update
        # at its current resourceVersion (the spec the policies read is unchanged).
        method, path = "PUT", resource.path(namespace, meta["name"])
        current = oracle.client.get(resource, meta["name"], namespace)
        sent = copy.deepcopy(review.object or {})
        sent["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        body = orjson.dumps(sent)
    elif case.operation == Operation.DELETE:
        method, path, body = "DELETE", resource.path(namespace, meta["name"]), None
    try:
        response = oracle.client.request(
            method,
            path,
            params={"dryRun": "All"},
            body=body,
            content_type="application/json" if body else None,
        )
    except ApiError as error:
        return Answer(True, error.status or 0, error.message)
    return Answer(False, warnings=_warnings(response.headers))


def _probes(oracle: Oracle) -> dict[str, tuple[Case, Review, Answer]]:
    """One case per binding whose answer shows the binding is enforced (a denial or a
    warning); the Audit-only binding has none."""
    probes: dict[str, tuple[Case, Review, Answer]] = {}
    for case in oracle.cases:
        review = _review(oracle, case)
        verdict = evaluate(tuple(oracle.policies), review, oracle.context)
        shown = verdict.denials[:1] or verdict.warnings
        if shown and shown[0].binding not in probes:
            probes[shown[0].binding] = (case, review, expected(oracle, review))
    return probes


def test_kubeops_agrees_with_the_api_server(oracle: Oracle) -> None:
    waiting = _probes(oracle)

    def enforced() -> bool:
        late = []
        for policy, (case, review, answer) in list(waiting.items()):
            got = observed(oracle, case, review)
            if got == answer:
                del waiting[policy]
            else:
                late.append(f"{case.label}: kubeops {answer}, server {got}")
        assert not late, "\n".join(late)
        return True

    eventually(enforced, timeout=60, message="every policy to be enforced as kubeops expects")
    disagreements = []
    for case in oracle.cases:
        review = _review(oracle, case)
        want, got = expected(oracle, review), observed(oracle, case, review)
        if want != got:
            disagreements.append(f"{case.label}:\n  kubeops: {want}\n  server:  {got}")
    total = len(oracle.cases)
    denied = sum(1 for case in oracle.cases if expected(oracle, _review(oracle, case)).denied)
    print(f"\nVAP oracle: {total - len(disagreements)}/{total} agree ({denied} denied)")
    assert not disagreements, "\n".join(disagreements)
    assert total >= 100  # a corpus that denies nothing proves nothing
    assert denied >= 40
