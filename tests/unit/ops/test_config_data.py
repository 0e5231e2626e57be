"""ConfigMap and Secret builders: sources parsed as kubectl parses them, base64 handled,
keys checked, TLS material validated -- all without a cluster."""

from __future__ import annotations

import base64
import datetime
import json
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kubeops.errors import KubeopsError
from kubeops.ops.config_data import (
    ConfigDataError,
    check_tls_pair,
    config_key_problem,
    configmap,
    decoded,
    docker_config_json,
    docker_registry_secret,
    parse_env_file,
    secret,
    tls_secret,
)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def pem_pair(common_name: str = "web.example.com", *, rsa_key: bool = False) -> tuple[bytes, bytes]:
    """A self-signed certificate and its unencrypted key, both PEM."""
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
        serialization.PrivateFormat.PKCS8
        if rsa_key
        else serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


# -- literals ---------------------------------------------------------------------------------


def test_literals_split_at_the_first_equals_sign_and_may_be_empty() -> None:
    cm = configmap("app", literals=["url=http://x/?a=b", "empty="])
    assert cm == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app"},
        "data": {"empty": "", "url": "http://x/?a=b"},
    }


def test_literals_may_be_a_mapping_and_the_namespace_is_set_when_given() -> None:
    cm = configmap("app", namespace="shop", literals={"level": "debug"})
    assert cm["metadata"] == {"name": "app", "namespace": "shop"}
    assert cm["data"] == {"level": "debug"}


def test_secret_values_are_base64_and_the_type_is_left_to_the_server_unless_given() -> None:
    s = secret("creds", literals={"user": "admin", "pass": "s3cr=t ü"})
    assert s["data"] == {"pass": b64("s3cr=t ü"), "user": b64("admin")}
    assert "type" not in s
    assert secret("x", type="example.com/token", literals={"a": "b"})["type"] == "example.com/token"


def test_an_empty_configmap_has_no_data_fields() -> None:
    assert configmap("nothing") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nothing"},
    }


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("novalue", "literal 'novalue' is not of the form key=value"),
        ("=value", "'' is not a valid key (keys must not be empty)"),
        ("bad key=1", "'bad key' is not a valid key (use only letters, digits"),
        ("..hidden=1", "must not be '.' or '..' or start with '..'"),
    ],
)
def test_a_bad_literal_names_the_object_and_the_literal(literal: str, message: str) -> None:
    with pytest.raises(ConfigDataError) as caught:
        configmap("app", literals=[literal])
    assert str(caught.value).startswith('create configmap "app": ')
    assert message in str(caught.value)


def test_a_string_instead_of_a_list_of_literals_is_refused() -> None:
    with pytest.raises(ConfigDataError, match="not a str"):
        configmap("app", literals="a=b")


def test_config_key_rules_follow_the_api_server() -> None:
    assert config_key_problem("tls.crt") is None
    assert config_key_problem(".dockerconfigjson") is None
    assert config_key_problem("a" * 253) is None
    assert config_key_problem("a" * 254) == "keys are at most 253 characters"
    assert config_key_problem("a/b") is not None
    assert config_key_problem("..") is not None


# -- files ------------------------------------------------------------------------------------


def test_a_file_is_keyed_by_its_name_or_by_the_key_given(tmp_path: Path) -> None:
    (tmp_path / "app.properties").write_text("color=blue\n")
    cm = configmap(
        "app",
        files=[str(tmp_path / "app.properties"), f"renamed={tmp_path / 'app.properties'}"],
    )
    assert cm["data"] == {"app.properties": "color=blue\n", "renamed": "color=blue\n"}


def test_a_path_object_is_a_path_even_with_an_equals_sign(tmp_path: Path) -> None:
    odd = tmp_path / "k=v" / "settings.ini"
    odd.parent.mkdir()
    odd.write_text("x")
    assert configmap("app", files=[odd])["data"] == {"settings.ini": "x"}
    with pytest.raises(ConfigDataError, match=r"cannot read v/settings\.ini"):
        configmap("app", files=[str(odd)])  # as a string it is KEY=PATH, as kubectl reads it


def test_binary_files_go_to_binary_data_in_a_configmap_and_to_data_in_a_secret(
    tmp_path: Path,
) -> None:
    blob = bytes(range(256))
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "note.txt").write_text("héllo")
    sources = [str(tmp_path / "blob.bin"), str(tmp_path / "note.txt")]
    cm = configmap("app", files=sources)
    assert cm["data"] == {"note.txt": "héllo"}
    assert cm["binaryData"] == {"blob.bin": b64(blob)}
    assert decoded(cm) == {"blob.bin": blob, "note.txt": "héllo".encode()}
    s = secret("app", files=sources)
    assert s["data"] == {"blob.bin": b64(blob), "note.txt": b64("héllo")}
    assert decoded(s) == {"blob.bin": blob, "note.txt": "héllo".encode()}


def test_a_directory_gives_its_regular_files_only(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("1")
    (tmp_path / "two.txt").write_text("2")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.txt").write_text("3")
    os.symlink(tmp_path / "one.txt", tmp_path / "link.txt")
    assert configmap("app", files=[str(tmp_path)])["data"] == {"one.txt": "1", "two.txt": "2"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a=b=c", "key names and file paths cannot contain '='"),
        ("=file", "the key name before '=' is missing"),
        ("key=", "the file path after '=' is missing"),
    ],
)
def test_a_malformed_file_source_is_refused(source: str, message: str) -> None:
    with pytest.raises(ConfigDataError, match=message):
        configmap("app", files=[source])


def test_a_missing_file_and_a_keyed_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigDataError) as caught:
        secret("app", files=[str(tmp_path / "absent")])
    assert str(caught.value) == (
        f'create secret "app": cannot read {tmp_path / "absent"}: No such file or directory'
    )
    with pytest.raises(ConfigDataError, match="is a directory; a key can only name a file"):
        configmap("app", files=[f"key={tmp_path}"])


# -- env files --------------------------------------------------------------------------------


def test_env_file_lines_as_kubectl_reads_them() -> None:
    data = (
        "\ufeffFIRST=1\r\n"  # a byte-order mark and a CRLF line end
        "# a comment\n"
        "\n"
        "   INDENTED=kept  \n"  # leading space dropped, trailing kept
        "URL=http://x/?a=b\n"
        "EMPTY=\n"
        "\t# indented comment\n"
        "LAST=no newline"
    ).encode()
    assert parse_env_file(data, "app.env") == [
        ("FIRST", "1", 1),
        ("INDENTED", "kept  ", 4),
        ("URL", "http://x/?a=b", 5),
        ("EMPTY", "", 6),
        ("LAST", "no newline", 8),
    ]


def test_an_env_file_line_without_equals_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text("A=1\nJUST_A_NAME\n")
    with pytest.raises(ConfigDataError) as caught:
        configmap("app", env_files=[str(env)])
    assert str(caught.value) == (
        f"create configmap \"app\": env file {env}, line 2: 'JUST_A_NAME' has no '='; "
        "env files hold KEY=VALUE lines (blank lines and # comments are ignored)"
    )
    assert isinstance(caught.value, KubeopsError)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"1ABC=x", "'1ABC' is not a valid variable name"),
        (b"SPACE BEFORE=x", "'SPACE BEFORE' is not a valid variable name"),
        (b"A=\xff", "line 1 is not valid UTF-8"),
    ],
)
def test_bad_env_file_lines_are_refused(line: bytes, message: str) -> None:
    with pytest.raises(ConfigDataError, match=message):
        parse_env_file(line, "x.env")


def test_env_file_values_are_strings_in_both_kinds(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text("USER=admin\nPASS=p@ss=word\n")
    assert configmap("c", env_files=[env])["data"] == {"PASS": "p@ss=word", "USER": "admin"}
    assert secret("s", env_files=[env])["data"] == {"PASS": b64("p@ss=word"), "USER": b64("admin")}


def test_a_key_given_twice_is_an_error_naming_both_sources(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text("A=1\nB=2\n")
    (tmp_path / "B").write_text("file")
    with pytest.raises(ConfigDataError) as caught:
        secret("s", literals=["B=literal"], env_files=[env])
    assert str(caught.value) == (
        f"create secret \"s\": key 'B' from env file {env}, line 2 is already set by "
        "literal 'B'; each key may be given once"
    )
    with pytest.raises(ConfigDataError, match=r"key 'B' from file .* is already set by literal"):
        configmap("c", literals={"B": "x"}, files=[str(tmp_path / "B")])
    env.write_text("A=1\nA=2\n")
    with pytest.raises(ConfigDataError, match=r"line 2 is already set by env file .*, line 1"):
        configmap("c", env_files=[env])


# -- TLS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("rsa_key", [False, True])
def test_a_tls_secret_holds_the_files_as_given(tmp_path: Path, rsa_key: bool) -> None:
    cert, key = pem_pair(rsa_key=rsa_key)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    s = tls_secret("web", tmp_path / "tls.crt", str(tmp_path / "tls.key"), namespace="shop")
    assert s == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web", "namespace": "shop"},
        "data": {"tls.crt": b64(cert), "tls.key": b64(key)},
        "type": "kubernetes.io/tls",
    }
    assert tls_secret("web", cert, key)["data"] == s["data"]  # PEM bytes work as well


def test_a_certificate_chain_is_checked_against_its_first_certificate() -> None:
    leaf, key = pem_pair("leaf")
    issuer, _ = pem_pair("issuer")
    check_tls_pair(leaf + issuer, key)
    with pytest.raises(ConfigDataError, match="does not match"):
        check_tls_pair(issuer + leaf, key)


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path) -> None:
    cert, _ = pem_pair("a.example")
    _, other_key = pem_pair("b.example", rsa_key=True)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "other.key").write_bytes(other_key)
    with pytest.raises(ConfigDataError) as caught:
        tls_secret("web", tmp_path / "tls.crt", tmp_path / "other.key")
    assert str(caught.value) == (
        f'create secret tls "web": key file {tmp_path / "other.key"} does not match '
        f"certificate file {tmp_path / 'tls.crt'} (certificate subject CN=a.example)"
    )


def test_pem_problems_are_named_for_the_file_that_has_them() -> None:
    cert, key = pem_pair()
    cases = [
        (b"not pem at all", key, "the certificate is not PEM (no -----BEGIN CERTIFICATE----- block)"),
        (key, key, "the certificate holds a private key, not a certificate (are --cert and --key swapped?)"),
        (cert, cert, "the key holds no PEM private key (found CERTIFICATE)"),
        (cert, b"garbage", "the key is not PEM (no -----BEGIN PRIVATE KEY----- block)"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            key,
            "the certificate is not a valid PEM certificate",
        ),
    ]  # fmt: skip
    for cert_pem, key_pem, message in cases:
        with pytest.raises(ConfigDataError) as caught:
            tls_secret("web", cert_pem, key_pem)
        assert str(caught.value).startswith(f'create secret tls "web": {message}'), caught.value


def test_an_encrypted_key_is_refused() -> None:
    cert, key = pem_pair()
    private = serialization.load_pem_private_key(key, password=None)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(ConfigDataError, match="the key is encrypted"):
        tls_secret("web", cert, encrypted)


def test_an_unreadable_tls_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigDataError, match=r"cannot read certificate file .*absent.crt"):
        tls_secret("web", tmp_path / "absent.crt", tmp_path / "absent.key")


# -- docker-registry --------------------------------------------------------------------------


def test_docker_config_json_is_byte_for_byte_what_kubectl_writes() -> None:
    # From `kubectl create secret docker-registry r --docker-username='u<&>'
    # --docker-password='p:w' --docker-email=e@x --dry-run=client -o json` (v1.37).
    kubectl = (
        "eyJhdXRocyI6eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJ1XHUwMDNjXHUw"
        "MDI2XHUwMDNlIiwicGFzc3dvcmQiOiJwOnciLCJlbWFpbCI6ImVAeCIsImF1dGgiOiJkVHdtUGpwd09uYz0ifX19"
    )
    s = docker_registry_secret("r", username="u<&>", password="p:w", email="e@x")
    assert s["data"] == {".dockerconfigjson": kubectl}
    assert s["type"] == "kubernetes.io/dockerconfigjson"


def test_docker_config_json_leaves_out_an_empty_email() -> None:
    config = json.loads(docker_config_json("registry.example:5000", "bot", "pw"))
    assert config == {
        "auths": {
            "registry.example:5000": {"username": "bot", "password": "pw", "auth": b64("bot:pw")}
        }
    }


def test_docker_registry_secrets_need_a_username_and_a_password() -> None:
    with pytest.raises(ConfigDataError) as caught:
        docker_registry_secret("r", username="", password="")
    assert str(caught.value) == (
        'create secret docker-registry "r": a username and a password are required'
    )


def test_decoded_reports_bad_base64_instead_of_failing_obscurely() -> None:
    with pytest.raises(ConfigDataError, match=r"data\['x'\] is not valid base64"):
        decoded({"kind": "Secret", "metadata": {"name": "s"}, "data": {"x": "!!"}})
    assert decoded({"kind": "Secret", "stringData": {"a": "b"}}) == {"a": b"b"}
