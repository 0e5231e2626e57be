"""Finding 3 of the hardening issue, replayed: hostile or mistyped input gets one line.

Every case goes through the real ``kubeops`` command (a subprocess) and must end
with exit code 1 and exactly one stderr line naming the file, the key and the
cause -- no traceback, and no secret from the input.  The cases that need no
cluster run side by side in one fixture, so the module stays fast; the ones that
need a server use the session's testenv cluster.  The pure validation behind them
has unit tests at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeops.api.manifest import ManifestError, parse_manifests
from kubeops.config import safe_yaml
from kubeops.config.errors import ConfigError
from kubeops.config.schema import Fields, header_safe
from kubeops.inspect.config import InspectConfigError, parse_inspect_config
from kubeops.testenv import Cluster
from kubeops.testenv.state import StateFileError, read_owner, read_supervisor_state

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
SECRET_TOKEN = "s3cr3t-t0ken"


def _kubeconfig(*, server: str = "https://127.0.0.1:1", cluster: str = "", user: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n"
        + (f"    {cluster}\n" if cluster else "")
        + "users:\n- name: u\n  user:\n"
        + "".join(f"    {line}\n" for line in user.splitlines())
        + "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
    )


@dataclass(frozen=True)
class Case:
    """One command line; ``{d}`` in ``args`` and ``expected`` is its own directory."""

    id: str
    files: Mapping[str, str | bytes]
    args: tuple[str, ...]
    expected: tuple[str, ...]
    absent: tuple[str, ...] = field(default=(SECRET_TOKEN,))


def _inspect(config: str | bytes) -> tuple[Mapping[str, str | bytes], tuple[str, ...]]:
    files = {"config.yaml": config, "ok.yaml": CONFIG_MAP}
    return files, ("inspect", "-q", "--config", "{d}/config.yaml", "-f", "{d}/ok.yaml")


def _serve(*flags: str) -> tuple[str, ...]:
    return ("inspect", "serve", "--once", "--history", "sqlite:///{d}/h.db", *flags)


CASES = [
    # -- manifests (apply/delete -f) ---------------------------------------------------------
    Case(
        "10000-deep-nesting",
        {"deep.yaml": "[" * 10_000 + "]" * 10_000},
        ("apply", "-f", "{d}/deep.yaml"),
        ("{d}/deep.yaml", "line 1", "nesting depth"),
    ),
    Case(
        "deep-block-nesting",
        {"deep.yaml": "".join(" " * level + "a:\n" for level in range(300))},
        ("apply", "-f", "{d}/deep.yaml"),
        ("{d}/deep.yaml", "nested deeper than 128 levels"),
    ),
    Case(
        "python-tag",
        {"m.yaml": CONFIG_MAP + "data: !!python/object/apply:os.system [echo hi]\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml", "line 4", "!!python/object/apply:os.system", "not supported"),
    ),
    Case(
        "unhashable-key",
        {"m.yaml": CONFIG_MAP + "data:\n  ? [a, b]\n  : c\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml", "line 5", "mapping key"),
    ),
    Case(
        "binary-value",
        {"m.yaml": CONFIG_MAP + "data:\n  a: !!binary aGVsbG8=\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml", "line 5", "!!binary", "not supported"),
    ),
    Case(
        "nan-value",
        {"m.yaml": CONFIG_MAP + "data: {a: .nan}\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml", "line 4", ".nan"),
    ),
    Case(
        "integer-name",
        {"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 123}\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml, document 1", "metadata.name must be a string, not a number"),
    ),
    Case(
        "integer-name-delete",
        {
            "m.yaml": "---\n"
            + CONFIG_MAP
            + "---\nkind: Secret\napiVersion: v1\nmetadata: {name: 5}\n"
        },
        ("delete", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml, document 2", "metadata.name must be a string"),
    ),
    Case(
        "dot-dot-name-delete",
        {"m.yaml": CONFIG_MAP.replace("name: x", "name: '..', namespace: prod")},
        ("delete", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml, document 1", "invalid metadata.name '..': may not be empty, '.' or '..'"),
    ),
    Case(
        "list-items-not-a-list",
        {"m.yaml": "apiVersion: v1\nkind: List\nitems: {a: 1}\n"},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml, document 1", "items must be a list, not a mapping"),
    ),
    Case(
        "list-item-label-number",
        {
            "m.yaml": "apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a}\n"
            "- metadata: {name: b, labels: {tier: 1}}\n"
        },
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml", "items[1]", "metadata.labels.tier must be a string"),
    ),
    Case(
        "line-break-in-a-kind",
        {"m.yaml": 'apiVersion: v1\nkind: "Config\\nMap"\nmetadata: {labels: {}}\n'},
        ("apply", "-f", "{d}/m.yaml"),
        ("{d}/m.yaml, document 1", "Config\\nMap has no metadata.name"),
    ),
    Case(
        "no-objects-before-connecting",
        {"empty.yaml": "---\n---\n"},
        ("apply", "-f", "{d}/empty.yaml"),
        ("no objects found in {d}/empty.yaml",),
    ),
    # -- kubeconfig ----------------------------------------------------------------------------
    Case(
        "crlf-in-token",
        {"kc": _kubeconfig(user=f'token: "{SECRET_TOKEN}\\r\\nX-Injected: 1"')},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("token of user 'u' in {d}/kc", "control character"),
    ),
    Case(
        "crlf-in-token-file",
        {"kc": _kubeconfig(user="tokenFile: token"), "token": f"{SECRET_TOKEN}\r\nX-Injected: 1\n"},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("tokenFile of user 'u' in {d}/kc", "{d}/token", "control character"),
    ),
    Case(
        "newline-in-impersonated-user",
        {"kc": _kubeconfig(user='token: t\nas: "admin\\nX-Injected: 1"')},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("as of user 'u' in {d}/kc", "control character"),
    ),
    Case(
        "unclosed-ipv6-server",
        {"kc": _kubeconfig(server="https://[::1", user="token: t")},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("server of cluster 'k' in {d}/kc", "http or https URL"),
    ),
    Case(
        "host-label-over-63-characters",
        {"kc": _kubeconfig(server=f"https://{'a' * 70}.example.com", user="token: t")},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("server of cluster 'k' in {d}/kc", "host name that cannot be used"),
    ),
    Case(
        "tls-server-name-label-over-63-characters",
        {"kc": _kubeconfig(cluster=f"tls-server-name: {'x' * 300}", user="token: t")},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("tls-server-name of cluster 'k' in {d}/kc", "host name that cannot be used"),
    ),
    Case(
        "unclosed-ipv6-proxy",
        {"kc": _kubeconfig(cluster="proxy-url: http://[x", user="token: t")},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("proxy-url of cluster 'k' in {d}/kc",),
    ),
    Case(
        "kubeconfig-python-tag",
        {"kc": _kubeconfig(user="token: !!python/name:os.system")},
        ("get", "pods", "--kubeconfig", "{d}/kc"),
        ("kubeconfig {d}/kc, line 11", "not supported"),
    ),
    # -- inspect --config ----------------------------------------------------------------------
    Case(
        "inspect-checks-a-list",
        *_inspect("checks: [a, b]\n"),
        ("{d}/config.yaml", "checks: expected a mapping, got a list"),
    ),
    Case(
        "inspect-invalid-utf8",
        *_inspect(b"checks:\n  container-restarts: {severity: \xff\xfe}\n"),
        ("{d}/config.yaml", "UTF-8"),
    ),
    Case(
        "inspect-negative-restarts",
        *_inspect("checks:\n  container-restarts: {thresholds: {restarts: -5}}\n"),
        ("{d}/config.yaml", "checks.container-restarts.thresholds.restarts", "out of range"),
    ),
    Case(
        "inspect-boolean-restarts",
        *_inspect("checks:\n  container-restarts: {thresholds: {restarts: true}}\n"),
        ("{d}/config.yaml", "thresholds.restarts: expected a whole number, got a boolean"),
    ),
    Case(
        "inspect-kinds-a-string",
        *_inspect("excludes:\n- kinds: Pod\n"),
        ("{d}/config.yaml", "excludes[0].kinds: expected a list of strings, got a string"),
    ),
    Case(
        "inspect-python-tag",
        *_inspect("settings: !!python/object/new:os.system [echo]\n"),
        ("{d}/config.yaml, line 1", "not supported"),
    ),
    Case(
        "inspect-checks-typo",
        {"ok.yaml": CONFIG_MAP},
        ("inspect", "-q", "-f", "{d}/ok.yaml", "--checks", "sec-*,conatiner-restarts"),
        ("--checks: 'conatiner-restarts' matches no check", "did you mean container-restarts?"),
    ),
    Case(
        "inspect-min-score-negative",
        {"ok.yaml": CONFIG_MAP},
        ("inspect", "-q", "-f", "{d}/ok.yaml", "--min-score", "-5"),
        ("--min-score -5: give a score from 0 to 100",),
    ),
    # -- inspect serve flags -------------------------------------------------------------------
    Case(
        "serve-bad-webhook",
        {},
        _serve("--webhook", "http://[::1"),
        ("--webhook", "not a URL"),
    ),
    Case(
        "serve-checks-matching-nothing",
        {},
        _serve("--checks", ",,"),
        ("--checks ',,': give check IDs or globs",),
    ),
    Case(
        "serve-interval-1ms",
        {},
        _serve("--interval", "1ms"),
        ("--interval",),
    ),
    # -- testenv -------------------------------------------------------------------------------
    Case(
        "testenv-directory-that-cannot-be-made",
        {"file": "x"},
        ("testenv", "up", "--dir", "{d}/file/env", "--api-only"),
        ("cannot create {d}/file/env: Not a directory",),
    ),
    Case(
        "testenv-state-pid-a-string",
        {"env/testenv.json": '{"pid": "x"}'},
        ("testenv", "status", "--dir", "{d}/env"),
        ("{d}/env/testenv.json", "pid must be an integer, not a string"),
    ),
    Case(
        "testenv-state-not-an-object",
        {"env/testenv.json": "[1]"},
        ("testenv", "down", "--dir", "{d}/env"),
        ("{d}/env/testenv.json", "expected a JSON object, got a list"),
    ),
]


def kubeops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``kubeops`` command, with no kubeconfig unless one is named."""
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "KUBECONFIG": "/nonexistent"},
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 1 and one ``kubeops: error:`` line on stderr holding every ``expected``."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("kubeops: error: "), lines[0]
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Every case's directory and result, run four at a time."""

    def run(case: Case, directory: Path) -> tuple[Path, Any]:
        for name, content in case.files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        args = [a.replace("{d}", str(directory)) for a in case.args]
        return directory, kubeops(*args, cwd=directory)

    directories = [tmp_path_factory.mktemp(case.id) for case in CASES]  # not thread-safe
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(run, CASES, directories)
        return dict(zip([c.id for c in CASES], results, strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_one_line_naming_file_key_and_cause(
    case: Case, replayed: dict[str, tuple[Path, Any]]
) -> None:
    directory, result = replayed[case.id]
    line = assert_one_line(result, *(e.replace("{d}", str(directory)) for e in case.expected))
    for secret in case.absent:
        assert secret not in line


# -- against the session cluster ---------------------------------------------------------------


def test_a_crlf_token_is_refused_even_with_the_server_reachable(
    kube_cluster: Cluster, tmp_path: Path
) -> None:
    document = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    document["users"][0]["user"] = {"token": f"{SECRET_TOKEN}\r\nX-Injected: 1"}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    line = assert_one_line(
        kubeops("get", "pods", "--kubeconfig", str(path)), f"in {path}", "control character"
    )
    assert SECRET_TOKEN not in line


def test_watch_with_a_selector_the_server_refuses_is_one_line_not_a_retry_loop(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    result = kubeops(
        "watch", "pods", "-l", "tier in (", "-n", kube_namespace,
        "--kubeconfig", str(kube_cluster.kubeconfig),
    )  # fmt: skip
    assert_one_line(result, "BadRequest", "unable to parse requirement")


LISTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: from-list, namespace: NS}
- apiVersion: v1
  kind: SecretList
  items:
  - metadata: {name: from-nested-secret-list, namespace: NS}
    stringData: {k: v}
---
apiVersion: v1
kind: ConfigMapList
items:
- metadata: {name: typed-a, namespace: NS}
  data: {k: a}
- metadata: {name: typed-b, namespace: NS}
"""


def test_lists_are_unpacked_as_kubectl_does(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "lists.yaml"
    manifest.write_text(LISTS.replace("NS", kube_namespace))
    connection = ("--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace)
    applied = kubeops("apply", "-f", str(manifest), *connection)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [
        "configmap/from-list created",
        "secret/from-nested-secret-list created",
        "configmap/typed-a created",
        "configmap/typed-b created",
    ]
    names = set(kubeops("get", "configmaps", "-o", "name", *connection).stdout.split())
    names |= set(kubeops("get", "secrets", "-o", "name", *connection).stdout.split())
    assert {"configmap/from-list", "configmap/typed-a", "configmap/typed-b"} <= names
    assert "secret/from-nested-secret-list" in names
    deleted = kubeops("delete", "-f", str(manifest), *connection)
    assert deleted.returncode == 0, deleted.stderr
    assert len(deleted.stdout.splitlines()) == 4


# -- the pure validation -----------------------------------------------------------------------


def test_yaml_loads_as_the_json_data_kubectl_would_send() -> None:
    loaded = safe_yaml.load(
        "when: 2024-01-01\nat: 2024-01-01T10:00:00Z\n1: one\ntrue: yes\n~: none\n"
        "1.5: x\nbig: 18446744073709551615\nmerged: {<<: {a: 1}, b: 2}\nops: [=, <<]\n",
        "f",
    )
    assert loaded == {
        "when": "2024-01-01",
        "at": "2024-01-01T10:00:00Z",
        "1": "one",
        "true": True,
        "null": "none",
        "1.5": "x",
        "big": 2**64 - 1,
        "merged": {"a": 1, "b": 2},
        "ops": ["=", "<<"],
    }
    assert all(isinstance(key, str) for key in loaded)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!binary aGk=", "f, line 1: the tag !!binary is not supported"),
        ("a: !!set {x}", "the tag !!set is not supported"),
        ("a: !!omap [{x: 1}]", "the tag !!omap is not supported"),
        ("a: !custom x", "the tag !custom is not supported"),
        ("a: !!python/tuple [1]", "the tag !!python/tuple is not supported"),
        ("a:\n  b: .inf", "f, line 2: .inf is not a number JSON can hold"),
        ("a: 18446744073709551616", "an integer is out of the 64-bit range"),
        ("a: -9223372036854775809", "an integer is out of the 64-bit range"),
        ("? {a: 1}\n: b", "a list or mapping is used as a mapping key"),
        ('{!!int "clusters": 1}', "the value tagged !!int is not an integer"),
        ("a: !!float x", "the value tagged !!float is not a number"),
        ("a:\n  k: !!bool None", "f, line 2: the value tagged !!bool is not true or false"),
        ("a: !!map x", "the value tagged !!map is not a mapping"),
        ("a: !!str {=: x}", "the value tagged !!str is not a string"),
    ],
)
def test_what_json_cannot_hold_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(safe_yaml.YAMLInputError) as raised:
        safe_yaml.load(text, "f")
    assert message in str(raised.value)


def test_typed_list_items_take_the_list_kind_and_others_keep_theirs() -> None:
    manifests = parse_manifests(
        "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n"
        "- metadata: {name: a}\n"
        "- {apiVersion: v1, kind: Service, metadata: {name: b}}\n",
        "f",
    )
    assert [(m.object["apiVersion"], m.object["kind"]) for m in manifests] == [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
    ]
    assert manifests[1].where == "f, document 1 (line 1), items[1]"


def test_a_kind_ending_in_list_without_items_is_an_object() -> None:
    (manifest,) = parse_manifests(
        "apiVersion: shop.example.com/v1\nkind: ShoppingList\nmetadata: {name: weekly}\n", "f"
    )
    assert manifest.object["kind"] == "ShoppingList"
    assert parse_manifests("apiVersion: v1\nkind: List\n", "f") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n", "items[0]: missing or empty field 'apiVersion'"),
        ("apiVersion: v1\nkind: List\nitems: [5]\n", "items[0]: expected a Kubernetes object (a mapping), not a number"),
        ("apiVersion: v1\nkind: List\nitems:\n- kind: SecretList\n  apiVersion: v1\n  items: [[]]\n", "items[0].items[0]: expected"),
        ("apiVersion: 1\nkind: Pod\nmetadata: {name: a}\n", "apiVersion must be a string, not a number"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: [x]}\n", "metadata.namespace must be a string, not a list"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, annotations: {a: true}}\n", "metadata.annotations.a must be a string"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {generateName: 7}\n", "metadata.generateName must be a string"),
        ("- a\n", "expected a Kubernetes object (a mapping), not a list"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: '..'}\n", "invalid metadata.name '..': may not be empty, '.' or '..'"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x/y}\n", "or contain '/' or '%'"),
    ],
)  # fmt: skip
def test_manifest_fields_kubeops_reads_are_checked(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        parse_manifests(text, "f")
    assert message in str(raised.value)


def _thresholds(check: str, **values: Any) -> dict[str, Any]:
    return {"checks": {check: {"thresholds": values}}}


@pytest.mark.parametrize(
    "document",
    [
        _thresholds("container-restarts", restarts=0),
        _thresholds("usage-node-cpu", percent=100),
        _thresholds("node-version-skew", max_minor_skew=3),
        _thresholds("namespace-no-networkpolicy", skip_namespaces=["kube-system"]),
        {"excludes": [{"kinds": ["Pod"], "reason": "why", "labels": "a=b"}]},
        {"checks": None, "settings": None, "excludes": None},
    ],
)
def test_well_typed_inspect_configs_load(document: dict[str, Any]) -> None:
    parse_inspect_config(document, "c")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_thresholds("container-restarts", restarts=-1), "restarts: -1 is out of range (give 0 or more)"),
        (_thresholds("container-restarts", restarts=False), "expected a whole number, got a boolean"),
        (_thresholds("container-restarts", restarts=2.5), "expected a whole number, got 2.5"),
        (_thresholds("usage-node-cpu", percent=101), "percent: 101 is out of range (give from 0 to 100)"),
        (_thresholds("namespace-no-networkpolicy", skip_namespaces="kube-system"), "got a string"),
        (_thresholds("namespace-no-networkpolicy", skip_namespaces=["a", 1]), "skip_namespaces[1]: expected a string"),
        ({"checks": {"container-restarts": {"thresholds": [1]}}}, "thresholds: expected a mapping"),
        ({"settings": {"allowed_registries": "docker.io"}}, "settings.allowed_registries: expected a list"),
        ({"excludes": {"kinds": ["Pod"]}}, "excludes: expected a list, got a mapping"),
        ({"excludes": [{"names": ["a"], "reason": 5}]}, "excludes[0].reason: expected a string"),
        ({"excludes": [{"labels": ["a=b"]}]}, "excludes[0].labels: expected a string, got a list"),
    ],
)  # fmt: skip
def test_inspect_config_values_of_the_wrong_type_or_range_are_refused(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InspectConfigError) as raised:
        parse_inspect_config(document, "c")
    assert message in str(raised.value)
    assert str(raised.value).startswith("inspect config c: ")


def test_header_values_with_control_characters_are_refused_without_the_value() -> None:
    assert header_safe("Bearer abc.DEF-123_~+/=")
    assert not header_safe("abc\r\nX: 1")
    assert not header_safe("a\x00b")
    fields = Fields(
        {"token": "t\nX", "as-groups": ["ok", "b\rad"], "as-user-extra": {"a:b": ["v"]}}, "user 'u'"
    )
    for read, key in (
        (fields.header, "token"),
        (fields.header_strings, "as-groups"),
        (fields.header_string_lists, "as-user-extra"),
    ):
        with pytest.raises(ConfigError, match=f"^{key} of user 'u' ") as raised:
            read(key)  # type: ignore[operator]
        assert "t\nX" not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not valid JSON (line 1, column 1"),
        ("{", "not valid JSON"),
        (b"\xff", "not UTF-8 text"),
        ("[" * 100_000 + "]" * 100_000, "testenv state file"),
        ('"x"', "expected a JSON object, got a string"),
        ("{}", "pid is missing"),
        ('{"pid": true}', "pid must be an integer, not a boolean"),
        ('{"pid": -1}', "pid -1 is not a process id"),
        ('{"pid": 10, "started": "now"}', "started must be an integer or null, not a string"),
        ('{"pid": 10, "clusters": [1]}', "clusters must be a list of names"),
    ],
)
def test_a_corrupt_state_file_is_one_error_naming_file_and_key(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "testenv.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(StateFileError) as raised:
        read_supervisor_state(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"testenv state file {path}")


def test_state_files_testenv_writes_read_back(tmp_path: Path) -> None:
    state = {"pid": 42, "started": 7, "uid": 1000, "status": "ready", "clusters": ["c1"]}
    (tmp_path / "testenv.json").write_text(json.dumps({**state, "new-field": {"x": 1}}))
    assert read_supervisor_state(tmp_path / "testenv.json") == {**state, "new-field": {"x": 1}}
    assert read_supervisor_state(tmp_path / "missing.json") is None
    (tmp_path / "owner.json").write_text('{"pid": 42, "started": null}')
    assert read_owner(tmp_path / "owner.json") == {"pid": 42, "started": None}


def test_kubeops_errors_of_tasks_run_side_by_side_are_one_line() -> None:
    from kubeops.cli.main import _first_kubeops_error
    from kubeops.errors import KubeopsError

    first, second = KubeopsError("first"), KubeopsError("second")
    nested = BaseExceptionGroup("g", [ExceptionGroup("inner", [first]), second])
    assert _first_kubeops_error(nested) is first
    assert _first_kubeops_error(ExceptionGroup("g", [first, ValueError("a bug")])) is None


def test_checks_flags_name_at_least_one_check_each() -> None:
    from kubeops.inspect.config import parse_only

    assert parse_only(" sec-*, container-restarts ,") == ("sec-*", "container-restarts")
    for text, message in (("", "give check IDs"), ("sec-*,x[", "'x[' matches no check")):
        with pytest.raises(InspectConfigError, match=re.escape(message)):
            parse_only(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters:\n- name: 123\n  cluster: {server: https://h}\n", "clusters[0]: name must be a string, not a number"),
        ("users:\n- {name: u, user: [token]}\n", "users[0] ('u'): user must be a mapping, not a list"),
        ("current-context: [c]\n", "current-context must be a string, not a list"),
        ("clusters: {k: 1}\n", "clusters must be a list, not a mapping"),
        ("a: !!binary aGk=\n", "line 1: the tag !!binary is not supported"),
    ],
)  # fmt: skip
def test_kubeconfig_structure_errors_name_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    from kubeops.config.kubeconfig import load_kubeconfig

    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_kubeconfig(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_keys_from_the_file_cannot_split_the_line() -> None:
    with pytest.raises(InspectConfigError) as raised:
        parse_inspect_config({"checks": {"a\nb": {}}}, "c")
    assert "checks.'a\\nb': no such check" in str(raised.value)
    with pytest.raises(ManifestError) as manifest:
        parse_manifests(
            'apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {"x\\ny": 1}}\n', "f"
        )
    assert "metadata.labels.'x\\ny' must be a string" in str(manifest.value)
    assert "\n" not in str(raised.value) + str(manifest.value)


def test_the_handler_keeps_a_log_tail_on_its_own_lines_only() -> None:
    from kubeops.cli.main import _one_line
    from kubeops.errors import KubeopsError
    from kubeops.testenv.errors import ComponentFailed

    assert _one_line(KubeopsError('pods "a\nb" not found')) == 'pods "a\\nb" not found'
    failed = ComponentFailed("etcd", None, "exited with code 1", ["first", "second"])
    assert _one_line(failed).splitlines()[1:] == ["    first", "    second"]
