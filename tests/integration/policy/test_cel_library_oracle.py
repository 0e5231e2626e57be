"""The API server is the oracle for kubeops' CEL libraries.

One ValidatingAdmissionPolicy carries one validation per expression of the corpus
(Kubernetes' lists, regex, URL, IP/CIDR, format, semver, quantity and authorizer
libraries, the sets/lists/two-variable extensions, cross-type comparisons), its
binding warns (``validationActions: [Warn]``) and selects only this test's
namespace.  Each ConfigMap of the corpus goes through a server-side dry-run
create; the Warning headers say which validations failed (``E<n>``) or erred,
and kubeops must say the same for every expression and object.  Expressions
Kubernetes does not have are refused by both.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import pytest

from kubeops import cel
from kubeops.api import SyncClient
from kubeops.cel.authorizer import activation
from kubeops.errors import KubeopsError
from kubeops.testenv import eventually
from kubeops.transport.errors import ApiError

VAP_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
BINDING_PATH = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
VARIABLES = (
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "authorizer",
    "variables",
)

D = "object.data"
LIST = f"{D}.?list.orValue('').split(',')"
NAME = f"{D}.?name.orValue('')"
EXPRESSIONS: tuple[str, ...] = (
    "false",  # fails for every object: shows the policy is enforced
    # Kubernetes' lists library
    f"{LIST}.isSorted()",
    f"{LIST}.indexOf('b') >= 0",
    f"{LIST}.lastIndexOf('a') == 0",
    f"{LIST}.map(x, size(x)).sum() < 6",
    f"{LIST}.min() == 'a'",
    f"{LIST}.map(x, size(x)).max() <= 1",
    f"{LIST}.map(x, double(size(x))).sum() >= 3.0",
    # cel-go ext lists (v2 in cel-cpp, v3 in Kubernetes), two-variable comprehensions, sets
    f"{LIST}.distinct().size() == {LIST}.size()",
    f"{LIST}.sort() == {LIST}",
    f"{LIST}.reverse()[0] != 'a'",
    f"{LIST}.sortBy(x, -size(x))[0].size() >= 1",
    f"{LIST}.slice(0, 1) == ['a']",
    "lists.range(3).slice(1, 3) == [1, 2] && [[1], [2, 3]].flatten().size() == 3",
    f"{D}.all(k, v, size(k) + size(v) < 40)",
    f"{D}.exists(k, v, k == 'ip' && v.startsWith('10.'))",
    f"[1, 2].transformList(i, v, v * 2) == [2, 4] && {LIST}.transformList(i, v, i).size() < 3",
    f"sets.contains(['a', 'b', 'c'], {LIST})",
    f"sets.intersects({LIST}, ['x', 'y'])",
    f"sets.equivalent({LIST}, ['a', 'b'])",
    # regex
    f"{NAME}.find('[0-9]+') == ''",
    f"{NAME}.findAll('[a-z]').size() > 3",
    f"{NAME}.findAll('[a-z]+', 1).size() == 1",
    f"'abc1'.find({D}.?pattern.orValue('b')) != ''",
    f"{NAME}.matches('^[a-z-]+$')",
    # URLs
    f"isURL({D}.?url.orValue(''))",
    f"url({D}.?url.orValue('/')).getScheme() in ['', 'https']",
    f"url({D}.url).getHostname() != 'evil.example.com'",
    f"url({D}.url).getPort() == '' || int(url({D}.url).getPort()) < 1024",
    f"url({D}.url).getEscapedPath().startsWith('/a')",
    f"'x' in url({D}.url).getQuery()",
    f"url({D}.url).getHost().endsWith('example.com')",
    # IP and CIDR
    f"isIP({D}.?ip.orValue(''))",
    f"ip({D}.ip).family() == 4",
    f"ip({D}.ip).isLoopback()",
    f"ip({D}.ip).isGlobalUnicast()",
    f"ip({D}.ip).isLinkLocalUnicast() || ip({D}.ip).isUnspecified() || ip({D}.ip).isLinkLocalMulticast()",
    f"ip.isCanonical({D}.ip)",
    f"string(ip({D}.ip)) == {D}.ip",
    f"isCIDR({D}.?cidr.orValue(''))",
    f"cidr({D}.cidr).containsIP({D}.ip)",
    f"cidr({D}.cidr).containsCIDR('10.1.0.0/16')",
    f"cidr({D}.cidr).masked() == cidr({D}.cidr)",
    f"cidr({D}.cidr).prefixLength() >= 8",
    f"string(cidr({D}.cidr).ip()) == {D}.ip",
    f"cidr('10.0.0.0/8').containsIP(ip({D}.ip))",
    # format
    f"!format.dns1123Label().validate({NAME}).hasValue()",
    f"!format.dns1123Subdomain().validate({NAME}).hasValue()",
    f"!format.named('dns1035Label').value().validate({NAME}).hasValue()",
    f"format.qualifiedName().validate({NAME}).orValue([]).size() == 0",
    f"!format.labelValue().validate({NAME}).hasValue()",
    f"!format.dns1123LabelPrefix().validate({NAME}).hasValue()",
    f"!format.uuid().validate({D}.?uuid.orValue('')).hasValue()",
    f"!format.byte().validate({D}.?b64.orValue('')).hasValue()",
    f"!format.date().validate({D}.?date.orValue('')).hasValue()",
    f"!format.datetime().validate({D}.?date.orValue('')).hasValue()",
    f"!format.uri().validate({D}.?url.orValue('')).hasValue()",
    "!format.named('nope').hasValue()",
    # semver
    f"isSemver({D}.?ver.orValue(''))",
    f"isSemver({D}.?ver.orValue(''), true)",
    f"semver({D}.ver).isLessThan(semver('2.0.0'))",
    f"semver({D}.ver, true).major() >= 1",
    f"semver({D}.ver).compareTo(semver('1.2.3')) == 0",
    f"semver({D}.ver, true).isGreaterThan(semver('1.0.0-rc.1'))",
    # quantity
    f"isQuantity({D}.?q.orValue(''))",
    f"quantity({D}.q).isLessThan(quantity('1Gi'))",
    f"quantity({D}.q).compareTo(quantity('500m')) > 0",
    # cross-type numeric comparisons, strings
    f"int({D}.?n.orValue('0')) < 2.5",
    f"double({D}.?n.orValue('0')) >= 1",
    f"uint({D}.?n.orValue('0')) > 1.5",
    f"{NAME}.lowerAscii() == {NAME}",
    # authorizer (the requester is the test's admin; the default ServiceAccount may not list secrets)
    "authorizer.group('').resource('configmaps').namespace(object.metadata.namespace).check('get').allowed()",
    "authorizer.path('/healthz').check('get').allowed()",
    "authorizer.serviceAccount(object.metadata.namespace, 'default').group('').resource('secrets')"
    ".check('list').allowed()",
    "authorizer.requestResource.check('create').allowed()",
    "!authorizer.group('').resource('pods').check('delete').errored()",
    # (messageExpression cannot reach the authorizer, so reasons are compared as conditions)
    "authorizer.group('').resource('configmaps').check('get').reason() == ''",
    "authorizer.serviceAccount(object.metadata.namespace, 'default').group('apps')"
    ".resource('deployments').check('list').reason() == ''",
    "authorizer.path('/readyz').check('get').reason().size() < 3",
    # variables
    "variables.parts.size() <= 3",
)
VALUES: tuple[str, ...] = (
    # string-valued: the API server shows each as a failing validation's messageExpression
    f"url({D}.url).getScheme() + '|' + url({D}.url).getHost() + '|' + url({D}.url).getPort()",
    f"url({D}.url).getHostname() + '|' + url({D}.url).getEscapedPath()",
    f"url({D}.url).getQuery().map(k, k + '=' + url({D}.url).getQuery()[k].join('&')).sort().join(',')",
    f"string(ip({D}.ip)) + '|' + string(ip({D}.ip).family())",
    f"string(cidr({D}.cidr)) + '|' + string(cidr({D}.cidr).masked()) + '|' + string(cidr({D}.cidr).ip())",
    f"format.dns1123Subdomain().validate({NAME}).orValue(['ok']).join(';')",
    f"format.qualifiedName().validate({NAME}).orValue(['ok']).join(';')",
    f"format.labelValue().validate({NAME}).orValue(['ok']).join(';')",
    f"format.dns1035Label().validate({NAME}).orValue(['ok']).join(';')",
    f"format.dns1123Label().validate({NAME}).orValue(['ok']).join(';')",
    f"format.uri().validate({D}.?url.orValue('')).orValue(['ok']).join(';')",
    f"[semver({D}.ver, true).major(), semver({D}.ver, true).minor(), semver({D}.ver, true).patch()]"
    ".map(x, string(x)).join('.')",
    f"string(semver({D}.ver, true).compareTo(semver('1.2.3-rc.1')))",
    f"string(quantity({D}.q).compareTo(quantity('1'))) + '|' + string(quantity({D}.q).isInteger())",
    f"{NAME}.findAll('[a-z]+').join(',') + '|' + 'abc1'.find({D}.?pattern.orValue('b'))",
    f"{LIST}.sort().join(',') + '|' + {LIST}.distinct().join(',') + '|' + {LIST}.min()",
    f"ip.isCanonical({D}.ip) ? 'canonical' : 'not canonical'",
)
POLICY_VARIABLES = {"parts": LIST}
NOT_KUBERNETES = (
    "math.greatest(1, 2) == 2",
    "base64.encode(b'a') == 'YQ=='",
    "1 == 1.0",
    "'a'.find(1) == ''",
    "ip('1.2.3.4').prefixLength() == 1",
    "semver('1.0.0').isLessThan(quantity('1'))",
    "[1].includes(1)",
)
DATA: tuple[dict[str, str], ...] = (
    {},
    {"list": "a,b", "name": "web-1", "ip": "10.0.0.1", "cidr": "10.0.0.0/8", "n": "2"},
    {"list": "b,a", "name": "Web", "ip": "10.1.2.3", "cidr": "10.1.0.0/16", "n": "-1"},
    {"list": "a,a,c", "name": "abc", "ip": "::1", "cidr": "::1/128", "ver": "1.2.3", "q": "250m"},
    {"list": "a", "name": "a.b.c", "ip": "2001:DB8::1", "cidr": "2001:db8::/32", "ver": "v1.2"},
    {
        "list": "x,b",
        "name": "bad_name",
        "ip": "01.2.3.4",
        "cidr": "10.0.0.1/8",
        "ver": "1.0.0-rc.2",
    },
    {"ip": "fe80::1%eth0", "cidr": "10.0.0.0/33", "ver": "1.02.3", "q": "2Gi", "n": "1"},
    {"ip": "169.254.1.1", "cidr": "169.254.0.0/16", "ver": "2.0.0+build", "q": "12 apples"},
    {
        "ip": "0.0.0.0",
        "url": "https://example.com/a?x=1",
        "uuid": "123e4567-e89b-12d3-a456-426614174000",
    },
    {
        "ip": "224.0.0.5",
        "url": "https://example.com:8443/a%20b",
        "b64": "aGVsbG8=",
        "date": "2024-02-29",
    },
    {"url": "http://evil.example.com:80/x?y=2", "b64": "aGVsbG8", "date": "2023-02-29T10:00:00Z"},
    {"url": "/a/b?x", "pattern": "[[:digit:]]", "date": "2024-01-01T10:00:00Z", "uuid": "nope"},
    {"url": "not a url", "pattern": "(?=a)", "name": "-x", "list": ",,"},
    {"url": "https://[::1]:80/a", "pattern": "c\\d", "name": "z" * 70},
    {"url": "HTTPS://User@Example.COM:/%7e/a+b?q=a%20b&q=c+d&z", "ip": "::", "cidr": "::/0"},
    {"url": "http://a:b:c/x", "ip": "1.2.3.4.5", "cidr": "0.0.0.0/0", "name": "a/b"},
    {
        "url": "https://[fe80::1%25eth0]:8080/x",
        "ip": "2001:db8:0:0:1:0:0:1",
        "name": "example.com/x",
    },
    {"url": "https://exa%41mple.com/p?x=1;y=2&w=%zz&v=3", "ip": "fe80::1", "name": "/x"},
    {"url": "//host/path", "ver": "1.2.3-alpha.01", "q": "1e3", "name": "Ab.c-D_e"},
    {"url": "http://x/a b", "ver": "0.0.0-rc.1+b.2", "q": "-1.5", "name": "a" * 64},
    {"url": "mailto:a@b.c", "ver": "01.2", "q": "1Ki", "pattern": "(a", "list": "b,b,a"},
    {
        "url": "*",
        "ver": "v1",
        "q": "0.1",
        "pattern": "[[:word:]]",
        "date": "2024-01-01t10:00:00.5+01:00",
    },
    {"url": "https://example.com/%2F/x?", "ver": "1.2.3.4", "date": "2024-1-01", "b64": "===="},
    {
        "ip": "10.0.0.1",
        "cidr": "10.0.0.1/32",
        "b64": "YQ==",
        "uuid": "123E4567E89B12D3A456426614174000",
    },
)


GROUP = "cel-oracle.kubeops.io/group"
GROUP_SIZE = 10  # the API server keeps about 4 KiB of Warning headers per response
GROUPS = [
    list(range(i, min(i + GROUP_SIZE, len(EXPRESSIONS))))
    for i in range(0, len(EXPRESSIONS), GROUP_SIZE)
]
VALUE_GROUP_SIZE = 4  # values (validation messages) can be long
VALUE_GROUPS = [
    list(range(i, min(i + VALUE_GROUP_SIZE, len(VALUES))))
    for i in range(0, len(VALUES), VALUE_GROUP_SIZE)
]
PROBE = "probe"


def _rules() -> dict[str, Any]:
    rule = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["configmaps"],
    }
    return {"resourceRules": [rule]}


def _check(i: int) -> dict[str, str]:
    return {"expression": EXPRESSIONS[i], "message": f"E{i:03d}"}


def _value(i: int) -> dict[str, str]:
    """A validation that always fails, its message the value (or V<n>! when that errs)."""
    return {
        "expression": "false",
        "message": f"V{i:03d}!",
        "messageExpression": f"'V{i:03d}=' + ({VALUES[i]})",
    }


@pytest.fixture
def policies(sync_client: SyncClient, kube_namespace: str) -> Iterator[None]:
    """One warning policy per group of expressions, each bound to this namespace and to
    ConfigMaps labelled with its group; all removed afterwards."""
    suffix = uuid.uuid4().hex[:6]
    created: list[str] = []
    checks = [(str(k), [_check(i) for i in group]) for k, group in enumerate(GROUPS)]
    values = [(f"v{k}", [_value(i) for i in group]) for k, group in enumerate(VALUE_GROUPS)]
    try:
        for k, validations in checks + values:
            name = f"o{k}-{suffix}"
            vap = {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": name},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": _rules(),
                    "variables": [
                        {"name": n, "expression": e} for n, e in POLICY_VARIABLES.items()
                    ],
                    "validations": [{"expression": "false", "message": PROBE}, *validations],
                },
            }
            binding = {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": name},
                "spec": {
                    "policyName": name,
                    "validationActions": ["Warn"],
                    "matchResources": {
                        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: kube_namespace}},
                        "objectSelector": {"matchLabels": {GROUP: str(k)}},
                    },
                },
            }
            for path, body in ((VAP_PATH, vap), (BINDING_PATH, binding)):
                sync_client.request(
                    "POST", path, body=orjson.dumps(body), content_type="application/json"
                )
                created.insert(0, f"{path}/{name}")
        yield
    finally:
        for path in created:
            with contextlib.suppress(KubeopsError):
                sync_client.request("DELETE", path)


_WARNING = re.compile(r'^\d{3} \S+ "(.*)"$')
_FAILED = re.compile(r": (E\d{3}|probe)$")
_VALUE = re.compile(r": V(\d{3})([=!])(.*)$")
_ERRED = re.compile(r": expression '(.*)$")


def _config_map(
    namespace: str, index: int, group: int | str, data: Mapping[str, str]
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"case-{index}",
            "namespace": namespace,
            "labels": {GROUP: str(group)},
        },
    }
    if data:
        obj["data"] = dict(data)
    return obj


def _api_server(client: SyncClient, obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The object as admitted and the Warning texts of a dry-run create of ``obj``."""
    namespace = obj["metadata"]["namespace"]
    response = client.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        params={"dryRun": "All"},
        body=orjson.dumps(obj),
        content_type="application/json",
    )
    found = []
    for value in response.headers.getall("Warning", []):
        if match := _WARNING.match(value):
            found.append(match.group(1).replace('\\"', '"').replace("\\\\", "\\"))
    return response.json(), found


def _outcomes(group: list[int], warnings: list[str]) -> dict[int | str, str]:
    """Expression index (or "probe") -> "fail" or "error", from the API server's warnings."""
    outcomes: dict[int | str, str] = {}
    for text in warnings:
        if match := _FAILED.search(text):
            found = match.group(1)
            outcomes[PROBE if found == PROBE else int(found[1:])] = "fail"
        elif match := _ERRED.search(text):
            shown = match.group(1)  # the expression, then "' resulted in error: ...", maybe cut
            erred = [i for i in group if shown.startswith(EXPRESSIONS[i][: len(shown)])]
            if not erred:
                continue
            best = max(
                erred, key=lambda i: len(EXPRESSIONS[i]) if shown.startswith(EXPRESSIONS[i]) else 0
            )
            outcomes[best] = "error"
    return outcomes


def _kubeops(
    programs: list[cel.Program], group: list[int], activation_: dict[str, Any]
) -> dict[int | str, str]:
    outcomes: dict[int | str, str] = {}
    for i in group:
        try:
            if not programs[i].matches(activation_):
                outcomes[i] = "fail"
        except cel.CelEvaluationError:
            outcomes[i] = "error"
    return outcomes


def _authorize(client: SyncClient) -> Any:
    def authorize(spec: Mapping[str, Any]) -> tuple[str, str]:
        review = client.create(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": dict(spec),
            }
        )
        status = review.get("status") or {}
        decision = (
            "denied"
            if status.get("denied")
            else "allowed"
            if status.get("allowed")
            else "noOpinion"
        )
        return decision, str(status.get("reason") or "")

    return authorize


def _server_values(warnings: list[str]) -> dict[int, str]:
    """Value index -> "=<value>" or "!" (the value erred), from the API server's warnings."""
    return {int(m[1]): m[2] + m[3] for w in warnings if (m := _VALUE.search(w))}


def _our_value(program: cel.Program, activation_: dict[str, Any]) -> str:
    try:
        return f"={program.evaluate(activation_)}"
    except cel.CelEvaluationError:
        return "!"


@dataclass
class Judge:
    """kubeops' side: the compiled corpus and what an activation needs."""

    programs: list[cel.Program]
    values: list[cel.Program]
    variables: dict[str, cel.Program]
    user: dict[str, Any]
    namespace: dict[str, Any]
    authorizer: Any

    def activation(self, admitted: dict[str, Any]) -> dict[str, Any]:
        """What a VAP expression sees for the dry-run create of ``admitted``."""
        meta = admitted["metadata"]
        base = {
            "object": admitted,
            "oldObject": None,
            "request": {
                "operation": "CREATE",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "subResource": "",
                "userInfo": self.user,
                "dryRun": True,
            },
            "params": None,
            "namespaceObject": self.namespace,
            "authorizer": self.authorizer,
        }
        values: dict[str, Any] = {}
        for name, program in self.variables.items():
            with contextlib.suppress(cel.CelEvaluationError):
                values[name] = program.evaluate({**base, "variables": values})
        return {**base, "variables": values}


@pytest.fixture
def judge(sync_client: SyncClient, kube_namespace: str) -> Judge:
    """The corpus compiled by kubeops, with the cluster's authorizer behind ``authorizer``."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return Judge(
        [cel.compile(e, variables=VARIABLES) for e in EXPRESSIONS],
        [cel.compile(e, variables=VARIABLES) for e in VALUES],
        {k: cel.compile(v, variables=VARIABLES) for k, v in POLICY_VARIABLES.items()},
        sync_client.create(review)["status"]["userInfo"],
        sync_client.get("v1/Namespace", kube_namespace),
        activation(_authorize(sync_client)),
    )


def test_kubeops_cel_agrees_with_the_api_server(
    sync_client: SyncClient, kube_namespace: str, policies: None, judge: Judge
) -> None:
    labels = [str(k) for k in range(len(GROUPS))] + [f"v{k}" for k in range(len(VALUE_GROUPS))]

    def enforced(label: str) -> bool:
        _, warnings = _api_server(sync_client, _config_map(kube_namespace, 0, label, {}))
        return PROBE in _outcomes([], warnings)

    for label in labels:
        eventually(partial(enforced, label), timeout=30, message=f"corpus policy {label}")
    disagreements, seen, values_agree = [], [], 0
    for index, data in enumerate(DATA):
        for k, group in enumerate(GROUPS):
            admitted, warnings = _api_server(
                sync_client, _config_map(kube_namespace, index, k, data)
            )
            server = _outcomes(group, warnings)
            ours = _kubeops(judge.programs, group, judge.activation(admitted))
            for i in group:
                theirs, mine = server.get(i, "pass"), ours.get(i, "pass")
                seen.append(theirs)
                if theirs != mine:
                    disagreements.append(
                        f"{data!r}: {EXPRESSIONS[i]}: API server {theirs}, kubeops {mine}"
                    )
        for k, group in enumerate(VALUE_GROUPS):
            admitted, warnings = _api_server(
                sync_client, _config_map(kube_namespace, index, f"v{k}", data)
            )
            server_values = _server_values(warnings)
            activation_ = judge.activation(admitted)
            for i in group:
                theirs, mine = (
                    server_values.get(i, "missing"),
                    _our_value(judge.values[i], activation_),
                )
                if theirs == mine:
                    values_agree += 1
                else:
                    disagreements.append(
                        f"{data!r}: value {VALUES[i]}: API server {theirs}, kubeops {mine}"
                    )
    kinds = Counter(seen)
    checks, values = len(EXPRESSIONS) * len(DATA), len(VALUES) * len(DATA)
    print(
        f"CEL oracle: {len(EXPRESSIONS)} conditions x {len(DATA)} objects:"
        f" {checks - (len(disagreements) - (values - values_agree))}/{checks} agree"
        f" (the API server's outcomes: {dict(kinds)}); {len(VALUES)} values x {len(DATA)} objects:"
        f" {values_agree}/{values} equal"
    )
    assert not disagreements, "\n".join(disagreements)
    assert min(kinds["pass"], kinds["fail"], kinds["error"]) > 100, kinds  # all three, both sides


def test_what_kubernetes_lacks_kubeops_refuses(sync_client: SyncClient) -> None:
    for expression in NOT_KUBERNETES:
        vap = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": f"cel-refused-{uuid.uuid4().hex[:6]}"},
            "spec": {
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ]
                },
                "validations": [{"expression": expression}],
            },
        }
        with pytest.raises(ApiError) as refused:
            sync_client.request(
                "POST",
                VAP_PATH,
                params={"dryRun": "All"},
                body=orjson.dumps(vap),
                content_type="application/json",
            )
        assert refused.value.status == 422, expression
        with pytest.raises(cel.CelError):
            cel.compile(expression, variables=VARIABLES)
