"""`kubeops create configmap|secret` and `kubeops auth can-i|who-can|matrix|create-sa`, run as
a user runs them and compared with what the kubectl testenv builds shows for the same input.

The commands run through ``kubeops.cli.main``, with its handling of errors (one line on
stderr, exit code 1); some also in a process of their own.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kubeops.cli.main import main
from kubeops.testenv import Cluster, ensure_assets


def kubeops(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command through ``kubeops.cli.main.main``, in this process (a Python start
    costs more than the command): its errors are one line on stderr and exit code 1."""
    argv = [*args, "--kubeconfig", str(kubeconfig)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def kubeops_process(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same in a process of its own, for what only a process shows (stdout, exit code)."""
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = ensure_assets(["kubectl"]).path("kubectl")
    return subprocess.run(
        [str(binary), "--kubeconfig", str(kubeconfig), "--request-timeout=10s", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kubeops: error: ")
    return lines[0]


def pem_pair(common_name: str, *, rsa_key: bool = False) -> tuple[bytes, bytes]:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def stored(kubeconfig: Path, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """What the server holds, as kubectl shows it."""
    obj: dict[str, Any] = json.loads(ok(kubectl(kubeconfig, "get", kind, name, "-n", namespace, "-o", "json")))  # fmt: skip
    return obj


def data_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj.get(k) for k in ("data", "binaryData", "type")}


# -- create -----------------------------------------------------------------------------------


def test_create_secret_tls_gives_what_kubectl_gives(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    leaf, leaf_key = pem_pair("web.example.com", rsa_key=True)
    issuer, _ = pem_pair("issuer")
    (tmp_path / "tls.crt").write_bytes(leaf + issuer)  # a chain
    (tmp_path / "tls.key").write_bytes(leaf_key)
    args = ["create", "secret", "tls", "web-tls", "--cert", str(tmp_path / "tls.crt"),
            "--key", str(tmp_path / "tls.key"), "-n", ns]  # fmt: skip
    reference = json.loads(ok(kubectl(config, *args, "--dry-run=client", "-o", "json")))
    ours = json.loads(ok(kubeops(config, *args, "--dry-run=client", "-o", "json")))
    assert ours == reference

    assert ok(kubeops_process(config, *args)).strip() == "secret/web-tls created"
    assert data_of(stored(config, "secret", "web-tls", ns)) == data_of(reference)


def test_create_configmap_and_generic_secret_give_what_kubectl_gives(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    files = tmp_path / "files"
    (files / "nested").mkdir(parents=True)
    (files / "app.yaml").write_text("replicas: 3\nname: wéb\n")
    (files / "logo.bin").write_bytes(bytes(range(256)))
    (files / "nested" / "skipped.txt").write_text("subdirectories are not read")
    os.symlink(files / "app.yaml", files / "link.yaml")
    (tmp_path / "motd").write_text("hello\n")
    env = tmp_path / "app.env"
    env.write_bytes(
        b"\xef\xbb\xbfLEVEL=debug\r\n# comment\n\n   INDENTED=kept  \nURL=http://db/?a=b\nEMPTY=\n"
    )
    commands = {
        "files": ["create", "configmap", "files", "--from-file", str(files),
                  "--from-file", f"banner={tmp_path / 'motd'}", "--from-literal", "mode=blue"],
        "env": ["create", "configmap", "env", "--from-env-file", str(env)],
        "generic": ["create", "secret", "generic", "generic", "--type", "example.com/creds",
                    "--from-file", str(files), "--from-literal", "password=s3cr=t ü"],
        "secret-env": ["create", "secret", "generic", "secret-env", "--from-env-file", str(env)],
    }  # fmt: skip
    for name, args in commands.items():
        reference = json.loads(ok(kubectl(config, *args, "-n", ns, "--dry-run=client", "-o", "json")))  # fmt: skip
        ours = json.loads(ok(kubeops(config, *args, "-n", ns, "--dry-run=client", "-o", "json")))
        assert ours == reference, name
        created = json.loads(ok(kubeops(config, *args, "-n", ns, "-o", "json")))
        assert created["metadata"]["uid"]
        kind = "configmap" if args[1] == "configmap" else "secret"
        held = stored(config, kind, name, ns)
        expected = data_of(reference)
        if kind == "secret" and expected["type"] is None:
            expected["type"] = "Opaque"  # the server's default
        assert data_of(held) == expected, name


def test_create_secret_docker_registry_gives_what_kubectl_gives(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    args = ["create", "secret", "docker-registry", "pull", "--docker-server", "registry.example:5000",
            "--docker-username", "bot<&>", "--docker-password", "p:ss\u2028word",
            "--docker-email", "ci@example.com", "-n", ns]  # fmt: skip
    reference = json.loads(ok(kubectl(config, *args, "--dry-run=client", "-o", "json")))
    assert json.loads(ok(kubeops(config, *args, "--dry-run=client", "-o", "json"))) == reference
    assert ok(kubeops(config, *args, "--dry-run=server")).strip() == (
        "secret/pull created (server dry run)"
    )
    assert kubectl(config, "get", "secret", "pull", "-n", ns).returncode == 1
    assert ok(kubeops(config, *args, "-o", "name")).strip() == "secret/pull"
    assert data_of(stored(config, "secret", "pull", ns)) == data_of(reference)


def test_bad_input_is_one_line_and_exit_code_1_where_kubectl_fails_too(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    cert, key = pem_pair("a.example")
    _, other_key = pem_pair("b.example")
    for name, content in {"tls.crt": cert, "tls.key": key, "other.key": other_key,
                          "plain.txt": b"not pem\n"}.items():  # fmt: skip
        (tmp_path / name).write_bytes(content)
    (tmp_path / "dup.env").write_text("A=1\nA=2\n")
    tls = ["create", "secret", "tls", "t", "-n", ns]
    cases = {
        "mismatched key": (
            [*tls, "--cert", str(tmp_path / "tls.crt"), "--key", str(tmp_path / "other.key")],
            f"key file {tmp_path / 'other.key'} does not match certificate file",
        ),
        "certificate not PEM": (
            [*tls, "--cert", str(tmp_path / "plain.txt"), "--key", str(tmp_path / "tls.key")],
            "is not PEM (no -----BEGIN CERTIFICATE----- block)",
        ),
        "key not PEM": (
            [*tls, "--cert", str(tmp_path / "tls.crt"), "--key", str(tmp_path / "plain.txt")],
            "is not PEM (no -----BEGIN PRIVATE KEY----- block)",
        ),
        "swapped": (
            [*tls, "--cert", str(tmp_path / "tls.key"), "--key", str(tmp_path / "tls.crt")],
            "holds a private key, not a certificate (are --cert and --key swapped?)",
        ),
        "duplicate key": (
            ["create", "configmap", "c", "-n", ns, "--from-env-file", str(tmp_path / "dup.env")],
            "key 'A' from env file",
        ),
        "duplicate literal": (
            ["create", "secret", "generic", "s", "-n", ns, "--from-literal", "a=1",
             "--from-literal", "a=2"],
            "key 'a' from literal 'a' is already set by literal 'a'",
        ),
        "invalid key": (
            ["create", "configmap", "c", "-n", ns, "--from-literal", "bad key=1"],
            "'bad key' is not a valid key",
        ),
    }  # fmt: skip
    for case, (args, message) in cases.items():
        line = one_line_error(kubeops(config, *args))
        assert message in line, case
        assert kubectl(config, *args, "--dry-run=client").returncode == 1, case

    # kubectl reads a line without '=' from its own environment; kubeops refuses it.
    (tmp_path / "noeq.env").write_text("A=1\nJUST_A_NAME\n")
    line = one_line_error(kubeops(config, "create", "configmap", "c", "-n", ns,
                                  "--from-env-file", str(tmp_path / "noeq.env")))  # fmt: skip
    assert f"env file {tmp_path / 'noeq.env'}, line 2: 'JUST_A_NAME' has no '='" in line

    # A verb RBAC forbids: kubectl and kubeops both refuse, kubeops in one line.
    reader = kube_cluster.service_account_kubeconfig(
        "e2e-reader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}], ns
    )
    args = ["create", "configmap", "c", "-n", ns, "--from-literal", "a=b"]
    line = one_line_error(kubeops_process(reader, *args))
    assert line.startswith(f'kubeops: error: create configmaps "c" in namespace "{ns}": Forbidden')
    refused = kubectl(reader, *args)
    assert refused.returncode == 1
    assert "forbidden" in refused.stderr.lower()
    assert "Traceback" not in line


# -- auth -------------------------------------------------------------------------------------

RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get"],
        "resourceNames": ["settings"],
    },
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
]


def test_can_i_answers_as_kubectl_does(kube_cluster: Cluster, kube_namespace: str) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    sa_config = kube_cluster.service_account_kubeconfig("asker", RULES, ns)
    group = f"e2e-group-{ns}"
    bind = ["create", "rolebinding", "grp", "-n", ns, "--clusterrole=view", f"--group={group}"]
    ok(kubectl(config, *bind))
    questions = [
        ["list", "pods"],
        ["create", "pods"],
        ["get", "pods", "--subresource", "log"],
        ["get", "pods", "--subresource", "exec"],
        ["get", "configmaps/settings"],
        ["get", "configmaps/other"],
        ["list", "configmaps"],
        ["delete", "deploy"],
        ["patch", "deployments.apps/web"],
        ["list", "secrets"],
        ["list", "pods", "-A"],
        ["get", "/healthz"],
        ["get", "/metrics"],
        ["*", "*"],
    ]
    askers = [
        ("admin", config, []),
        ("the service account itself", sa_config, []),
        ("--as the service account", config, ["--as", f"system:serviceaccount:{ns}:asker"]),
        ("--as a user in a group", config, ["--as", "e2e-nobody", "--as-group", group]),
    ]

    pairs = [(q, a) for q in questions for a in askers]

    def ask(pair: tuple[list[str], tuple[str, Path, list[str]]]) -> list[str]:
        question, (_, _, flags) = pair
        return ["auth", "can-i", *question, "-n", ns, *flags]

    with ThreadPoolExecutor(8) as pool:
        theirs = list(pool.map(lambda pair: kubectl(pair[1][1], *ask(pair)), pairs))
    for pair, reference in zip(pairs, theirs, strict=True):
        ours = kubeops(pair[1][1], *ask(pair))
        assert (ours.stdout, ours.returncode) == (reference.stdout, reference.returncode), pair
        assert ours.stdout.strip() in ("yes", "no"), ours.stderr

    quiet = kubeops_process(sa_config, "auth", "can-i", "list", "secrets", "-n", ns, "-q")
    assert (quiet.stdout, quiet.returncode) == ("", 1)
    answer = json.loads(kubeops(config, "auth", "can-i", "list", "pods", "-n", ns, "-o", "json",
                                "--as", f"system:serviceaccount:{ns}:asker").stdout)  # fmt: skip
    assert answer["allowed"] is True
    assert answer["subject"] == {"kind": "ServiceAccount", "name": "asker", "namespace": ns}


def test_can_i_asks_about_cluster_scoped_kinds_as_their_requests_are_authorized(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    nodes = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]
    sa_config = kube_cluster.service_account_kubeconfig("node-peeker", nodes, ns)
    # kubectl asks in the namespace (and warns that nodes are not namespaced), so a Role
    # seems to allow it; the API server never authorizes node requests in a namespace.
    answer = kubeops(sa_config, "auth", "can-i", "list", "nodes", "-n", ns)
    assert (answer.stdout, answer.returncode) == ("no\n", 1)
    assert kubectl(sa_config, "get", "nodes").returncode == 1


def test_who_can_names_subjects_kubectl_can_i_confirms(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    kube_cluster.service_account_kubeconfig("watcher", RULES, ns)
    ok(kubectl(config, "create", "rolebinding", "people", "-n", ns, "--clusterrole=edit",
               f"--user=e2e-alice-{ns}", f"--group=e2e-devs-{ns}"))  # fmt: skip
    result = json.loads(
        ok(kubeops(config, "auth", "who-can", "get", "pods", "-n", ns, "-o", "json"))
    )
    subjects = {(s["kind"], s["name"], s.get("namespace", "")) for s in result["subjects"]}
    assert {
        ("ServiceAccount", "watcher", ns),
        ("User", f"e2e-alice-{ns}", ""),
        ("Group", f"e2e-devs-{ns}", ""),
        ("Group", "system:masters", ""),
    } <= subjects

    def confirmed(subject: tuple[str, str, str]) -> bool:
        kind, name, sa_namespace = subject
        if kind == "Group":
            flags = ["--as", "e2e-nobody", "--as-group", name]
        elif kind == "ServiceAccount":
            flags = ["--as", f"system:serviceaccount:{sa_namespace}:{name}"]
        else:
            flags = ["--as", name]
        answer = kubectl(config, "auth", "can-i", "get", "pods", "-n", ns, *flags)
        return answer.stdout.strip() == "yes"

    with ThreadPoolExecutor(8) as pool:
        answers = dict(zip(subjects, pool.map(confirmed, subjects), strict=True))
    assert answers == dict.fromkeys(subjects, True)

    table = ok(kubeops(config, "auth", "who-can", "get", "pods", "-n", ns)).splitlines()
    assert table[0].split() == ["KIND", "NAME", "NAMESPACE", "BINDING", "ROLE"]
    assert ["ServiceAccount", "watcher", ns, f"RoleBinding/{ns}/watcher", "Role/watcher"] in [
        line.split() for line in table
    ]


def test_the_access_matrix_agrees_with_kubectl_can_i_cell_by_cell(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    kube_cluster.service_account_kubeconfig("tabled", RULES, ns)
    user = f"system:serviceaccount:{ns}:tabled"
    args = [
        "auth",
        "matrix",
        "-n",
        ns,
        "--as",
        user,
        "--resources",
        "pods,configmaps,deploy,secrets",
    ]
    matrix = json.loads(ok(kubeops(config, *args, "-o", "json")))
    cells = [
        (row["resource"], verb, allowed)
        for row in matrix["resources"]
        for verb, allowed in row["verbs"].items()
    ]
    assert len(cells) == 32

    def kubectl_says(cell: tuple[str, str, bool | None]) -> bool:
        resource, verb, _ = cell
        answer = kubectl(config, "auth", "can-i", verb, resource, "-n", ns, "--as", user)
        return answer.stdout.strip() == "yes"

    with ThreadPoolExecutor(8) as pool:
        theirs = list(pool.map(kubectl_says, cells))
    assert [allowed for _, _, allowed in cells] == theirs
    assert sum(theirs) == 3 + 8  # pods get/list/watch, every verb on deployments

    table = ok(kubeops(config, *args)).splitlines()
    assert table[0].split() == ["NAME", "GET", "LIST", "WATCH", "CREATE", "UPDATE", "PATCH",
                                "DELETE", "DELETECOLLECTION"]  # fmt: skip
    assert table[1].split() == ["pods", "yes", "yes", "yes", "no", "no", "no", "no", "no"]


def test_create_sa_writes_a_kubeconfig_kubectl_uses_with_exactly_the_rules(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    config, ns = kube_cluster.kubeconfig, kube_namespace
    ok(kubectl(config, "create", "configmap", "settings", "-n", ns))
    ok(kubectl(config, "create", "configmap", "other", "-n", ns))
    out = tmp_path / "ci.kubeconfig"
    result = json.loads(ok(kubeops(config, "auth", "create-sa", "ci", "-n", ns,
                                   "--rule", "get,list:pods", "--rule", "get:configmaps:settings",
                                   "--duration", "20m", "--kubeconfig-out", str(out),
                                   "-o", "json")))  # fmt: skip
    assert result["kubeconfig"] == str(out)
    assert result["expirationSeconds"] == 1200
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    whoami = json.loads(ok(kubectl(out, "auth", "whoami", "-o", "json")))
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:ci"
    assert ok(kubectl(out, "get", "pods")) == ""  # in the kubeconfig's namespace, none yet
    assert ok(kubectl(out, "get", "configmap", "settings", "-o", "name")).strip() == (
        "configmap/settings"
    )
    for args in (
        ["get", "configmap", "other"],
        ["get", "secrets"],
        ["get", "pods", "-n", "default"],
    ):
        refused = kubectl(out, *args)
        assert refused.returncode == 1, args
        assert "forbidden" in refused.stderr.lower(), args
    assert ok(kubeops(out, "auth", "can-i", "list", "pods")).strip() == "yes"

    text = ok(kubeops(config, "auth", "create-sa", "ci", "-n", ns, "--rule", "list:pods",
                      "--kubeconfig-out", str(out)))  # fmt: skip
    assert f"kubeconfig written to {out} (token valid for 3600s)" in text
    assert kubectl(out, "get", "configmap", "settings").returncode == 1  # the rules were replaced

    dry = ok(kubeops(config, "auth", "create-sa", "dry", "-n", ns, "--rule", "get:pods",
                     "--dry-run=server", "--kubeconfig-out", str(tmp_path / "dry.kubeconfig")))  # fmt: skip
    assert "checked (server dry run); no token requested, no kubeconfig written" in dry
    assert kubectl(config, "get", "serviceaccount", "dry", "-n", ns).returncode == 1
    assert not (tmp_path / "dry.kubeconfig").exists()

    line = one_line_error(kubeops(config, "auth", "create-sa", "bad", "-n", ns, "--rule", "lsit:pods"))  # fmt: skip
    assert "unknown verb 'lsit'" in line
    line = one_line_error(kubeops(config, "auth", "create-sa", "bad", "-n", ns, "--rule", "get:pods",
                                  "--duration", "1m"))  # fmt: skip
    assert "token lifetime 60s is out of range" in line
    assert kubectl(config, "get", "serviceaccount", "bad", "-n", ns).returncode == 1
    assert not Path("bad.kubeconfig").exists()


@pytest.mark.parametrize("command", [["auth", "who-can", "get", "pods"], ["auth", "matrix"]])
def test_auth_commands_print_json(
    kube_cluster: Cluster, kube_namespace: str, command: list[str]
) -> None:
    document = json.loads(ok(kubeops(kube_cluster.kubeconfig, *command, "-n", kube_namespace, "-o", "json")))  # fmt: skip
    assert isinstance(document, dict)
