"""Resolving a context into a ClusterConfig: selection, overrides, TLS, users, mistakes."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from kubeops.config import (
    ConfigError,
    Credential,
    StaticCredentials,
    TokenFileCredentials,
    load_config,
)
from kubeops.config import incluster as incluster_module

from .samples import PKI, b64, kubeconfig_doc, simple_doc, write_yaml


def _two_contexts(tmp_path: Path) -> Path:
    return write_yaml(
        tmp_path / "config",
        kubeconfig_doc(
            clusters={"prod": {"server": "https://prod:6443/"}, "dev": {"server": "https://dev"}},
            users={"admin": {"token": "admin-token"}, "viewer": {"token": "viewer-token"}},
            contexts={
                "prod": {"cluster": "prod", "user": "admin", "namespace": "shop"},
                "dev": {"cluster": "dev", "user": "viewer"},
            },
            current="prod",
        ),
    )


async def test_current_context_selects_cluster_user_and_namespace(tmp_path: Path) -> None:
    path = _two_contexts(tmp_path)
    config = load_config(path)
    assert config.server == "https://prod:6443"
    assert config.context == "prod"
    assert config.namespace == "shop"
    assert config.source == f"kubeconfig {path}, context prod"
    assert (await config.credentials.get()).token == "admin-token"


def test_context_argument_overrides_current_context(tmp_path: Path) -> None:
    config = load_config(_two_contexts(tmp_path), context="dev")
    assert (config.server, config.context) == ("https://dev", "dev")


def test_namespace_defaults_to_default_when_the_context_has_none(tmp_path: Path) -> None:
    assert load_config(_two_contexts(tmp_path), context="dev").namespace == "default"


def test_namespace_argument_overrides_the_contexts(tmp_path: Path) -> None:
    assert load_config(_two_contexts(tmp_path), namespace="ops").namespace == "ops"


async def test_cluster_and_user_arguments_replace_the_contexts(tmp_path: Path) -> None:
    path = _two_contexts(tmp_path)
    config = load_config(path, cluster="dev", user="viewer")
    assert config.server == "https://dev"
    assert config.namespace == "shop"
    assert (await config.credentials.get()).token == "viewer-token"
    assert config.source == f"kubeconfig {path}, context prod, cluster dev, user viewer"


def test_kubeconfig_env_is_used_without_an_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_two_contexts(tmp_path)))
    assert load_config().context == "prod"


def test_missing_context_is_named_with_the_ones_that_exist(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"context 'staging' not found in .*config; contexts defined: dev, prod"
    ):
        load_config(_two_contexts(tmp_path), context="staging")


def test_missing_cluster_names_the_context_that_wants_it(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "config",
        kubeconfig_doc(
            clusters={"a": {"server": "https://a"}},
            contexts={"ctx": {"cluster": "gone"}},
            current="ctx",
        ),
    )
    with pytest.raises(
        ConfigError,
        match=r"cluster 'gone' \(named by context 'ctx'\) not found in .*; clusters defined: a$",
    ):
        load_config(path)


def test_missing_user_argument_is_named_with_the_ones_that_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"user 'root' not found .*users defined: admin, viewer"):
        load_config(_two_contexts(tmp_path), user="root")


def test_no_current_context_asks_for_one_and_lists_them(tmp_path: Path) -> None:
    doc = simple_doc()
    del doc["current-context"]
    with pytest.raises(
        ConfigError,
        match=r"no context selected: .*config set no current-context; name one \(contexts defined: ctx\)",
    ):
        load_config(write_yaml(tmp_path / "config", doc))


def test_no_kubeconfig_outside_a_cluster_says_where_it_looked(isolated_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"no configuration found: .*\.kube/config") as info:
        load_config()
    assert "not running in a cluster" in str(info.value)


def test_no_kubeconfig_inside_a_pod_falls_back_to_in_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("pod-token\n")
    (sa / "namespace").write_text("team-a")
    monkeypatch.setattr(incluster_module, "SERVICE_ACCOUNT_DIR", sa)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = load_config()
    assert (config.server, config.source, config.context) == (
        "https://10.0.0.1:443",
        "in-cluster",
        None,
    )
    assert config.namespace == "team-a"
    assert load_config(namespace="other").namespace == "other"


def test_a_kubeconfig_wins_over_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("KUBECONFIG", str(_two_contexts(tmp_path)))
    assert load_config().source.startswith("kubeconfig ")


@pytest.mark.parametrize(
    ("server", "tls", "expected"),
    [
        ("https://h:6443/", False, "https://h:6443"),
        ("https://h/prefix/", False, "https://h/prefix"),
        ("h:8080", False, "http://h:8080"),
        ("h:6443", True, "https://h:6443"),
        ("https://[::1]:6443", False, "https://[::1]:6443"),
    ],
)
def test_server_is_normalised_like_client_go(
    tmp_path: Path, server: str, tls: bool, expected: str
) -> None:
    doc = simple_doc(server=server)
    if tls:
        doc["clusters"][0]["cluster"]["tls-server-name"] = "h"
    assert load_config(write_yaml(tmp_path / "config", doc)).server == expected


@pytest.mark.parametrize("server", ["ftp://h", "https://", "https://h:notaport"])
def test_bad_server_url_is_rejected(tmp_path: Path, server: str) -> None:
    with pytest.raises(
        ConfigError, match=r"server of cluster 'c' in .* must be an http or https URL"
    ):
        load_config(write_yaml(tmp_path / "config", simple_doc(server=server)))


def test_cluster_without_server_is_rejected(tmp_path: Path) -> None:
    doc = simple_doc()
    doc["clusters"][0]["cluster"] = {}
    with pytest.raises(ConfigError, match=r"server of cluster 'c' in .*config is not set"):
        load_config(write_yaml(tmp_path / "config", doc))


def _with_cluster(tmp_path: Path, **cluster: Any) -> Path:
    doc = simple_doc()
    doc["clusters"][0]["cluster"].update(cluster)
    return write_yaml(tmp_path / "config", doc)


def _with_user(tmp_path: Path, **user: Any) -> Path:
    return write_yaml(tmp_path / "config", simple_doc(user=user))


def test_ca_from_file_and_from_data(tmp_path: Path, pki: PKI) -> None:
    (tmp_path / "ca.crt").write_bytes(pki.ca.cert_pem)
    from_file = load_config(_with_cluster(tmp_path, **{"certificate-authority": "ca.crt"}))
    from_data = load_config(
        _with_cluster(tmp_path, **{"certificate-authority-data": b64(pki.ca.cert_pem)})
    )
    assert from_file.ca_data == from_data.ca_data == pki.ca.cert_pem


def test_unreadable_ca_file_names_path_and_os_error(tmp_path: Path) -> None:
    path = _with_cluster(tmp_path, **{"certificate-authority": "missing-ca.crt"})
    with pytest.raises(
        ConfigError,
        match=r"certificate-authority of cluster 'c' in .*config cannot be read from "
        r".*missing-ca.crt: No such file or directory",
    ):
        load_config(path)


def test_bad_base64_names_the_field_and_entry(tmp_path: Path) -> None:
    path = _with_cluster(tmp_path, **{"certificate-authority-data": "not base64!"})
    with pytest.raises(
        ConfigError, match=r"certificate-authority-data of cluster 'c' in .* is not valid base64"
    ):
        load_config(path)


def test_ca_that_is_not_pem_is_rejected(tmp_path: Path) -> None:
    path = _with_cluster(tmp_path, **{"certificate-authority-data": b64(b"hello")})
    with pytest.raises(ConfigError, match=r"authority of cluster 'c' .* is not a PEM certificate"):
        load_config(path)


def test_insecure_together_with_a_ca_is_rejected(tmp_path: Path, pki: PKI) -> None:
    path = _with_cluster(
        tmp_path,
        **{"insecure-skip-tls-verify": True, "certificate-authority-data": b64(pki.ca.cert_pem)},
    )
    with pytest.raises(ConfigError, match="both insecure-skip-tls-verify and a certificate"):
        load_config(path)


def test_wrong_field_type_is_named_without_its_value(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"token of user 'u' in .* must be a string, not a number"
    ) as info:
        load_config(_with_user(tmp_path, token=987654321))
    assert "987654321" not in str(info.value)


def test_insecure_flag_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"insecure-skip-tls-verify of cluster 'c'.*true or false"
    ):
        load_config(_with_cluster(tmp_path, **{"insecure-skip-tls-verify": "yes"}))


def test_tls_server_name_and_proxy_url_are_carried(tmp_path: Path) -> None:
    config = load_config(
        _with_cluster(
            tmp_path,
            **{"tls-server-name": "kubernetes.default", "proxy-url": "socks5://proxy:1080"},
        )
    )
    assert config.tls_server_name == "kubernetes.default"
    assert config.proxy_url == "socks5://proxy:1080"


def test_proxy_url_with_another_scheme_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"proxy-url of cluster 'c'.* http, https or socks5"):
        load_config(_with_cluster(tmp_path, **{"proxy-url": "ftp://proxy"}))


async def test_client_certificate_from_files_relative_to_the_kubeconfig(
    tmp_path: Path, pki: PKI
) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "alice.crt").write_bytes(pki.client.cert_pem)
    (tmp_path / "pki" / "alice.key").write_bytes(pki.client.key_pem)
    config = load_config(
        _with_user(
            tmp_path, **{"client-certificate": "pki/alice.crt", "client-key": "pki/alice.key"}
        )
    )
    cred = await config.credentials.get()
    assert (cred.client_cert_pem, cred.client_key_pem, cred.token) == (
        pki.client.cert_pem,
        pki.client.key_pem,
        None,
    )
    assert config.credentials.describe() == "client certificate"


async def test_client_certificate_from_data(tmp_path: Path, pki: PKI) -> None:
    config = load_config(
        _with_user(
            tmp_path,
            **{
                "client-certificate-data": b64(pki.client.cert_pem),
                "client-key-data": b64(pki.client.key_pem),
            },
        )
    )
    assert (await config.credentials.get()).client_key_pem == pki.client.key_pem


def test_client_certificate_without_key_is_rejected(tmp_path: Path, pki: PKI) -> None:
    path = _with_user(tmp_path, **{"client-certificate-data": b64(pki.client.cert_pem)})
    with pytest.raises(ConfigError, match="sets client-certificate but no client-key"):
        load_config(path)


def test_client_key_that_does_not_match_the_certificate_is_rejected(
    tmp_path: Path, pki: PKI
) -> None:
    path = _with_user(
        tmp_path,
        **{
            "client-certificate-data": b64(pki.client.cert_pem),
            "client-key-data": b64(pki.other_key_pem),
        },
    )
    with pytest.raises(
        ConfigError, match=r"client certificate and client key of user 'u' .* do not match"
    ):
        load_config(path)


def test_unreadable_client_key_names_path_and_os_error(tmp_path: Path, pki: PKI) -> None:
    (tmp_path / "u.crt").write_bytes(pki.client.cert_pem)
    path = _with_user(tmp_path, **{"client-certificate": "u.crt", "client-key": "u.key"})
    with pytest.raises(
        ConfigError, match=r"client-key of user 'u' .* cannot be read from .*u.key: No such file"
    ):
        load_config(path)


async def test_token_file_is_read_and_described(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token\n")
    config = load_config(_with_user(tmp_path, tokenFile="token"))
    assert isinstance(config.credentials, TokenFileCredentials)
    assert (await config.credentials.get()).token == "file-token"
    assert config.credentials.describe() == f"token file {tmp_path / 'token'}"


def test_unreadable_token_file_names_user_path_and_os_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"tokenFile of user 'u' in .*: cannot read token file .*/nope: No such file",
    ):
        load_config(_with_user(tmp_path, tokenFile="nope"))


async def test_token_file_rotation_is_seen_after_invalidate(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    config = load_config(_with_user(tmp_path, tokenFile="token"))
    assert (await config.credentials.get()).token == "one"
    token.write_text("two")
    assert (await config.credentials.get()).token == "one"
    config.credentials.invalidate()
    assert (await config.credentials.get()).token == "two"


async def test_user_without_credentials_is_anonymous(tmp_path: Path) -> None:
    config = load_config(_with_user(tmp_path))
    assert isinstance(config.credentials, StaticCredentials)
    assert await config.credentials.get() == Credential()
    assert config.credentials.describe() == "no credentials"


def test_impersonation_fields_are_read_from_the_user(tmp_path: Path) -> None:
    config = load_config(
        _with_user(
            tmp_path,
            token="t",
            **{
                "as": "jane",
                "as-uid": "1234",
                "as-groups": ["devs", "ops"],
                "as-user-extra": {"scopes": ["view", "edit"]},
            },
        )
    )
    assert config.impersonate_user == "jane"
    assert config.impersonate_uid == "1234"
    assert config.impersonate_groups == ("devs", "ops")
    assert dict(config.impersonate_extra) == {"scopes": ("view", "edit")}


def test_impersonation_also_accepts_kubectl_flag_names(tmp_path: Path) -> None:
    config = load_config(
        _with_user(tmp_path, impersonate="jane", **{"impersonate-groups": ["devs"]})
    )
    assert (config.impersonate_user, config.impersonate_groups) == ("jane", ("devs",))


def test_impersonated_groups_without_a_user_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="impersonated groups, uid or extra fields but no impersonated user"
    ):
        load_config(_with_user(tmp_path, **{"as-groups": ["devs"]}))


def test_invalid_namespace_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"namespace 'Not_Valid' of context 'ctx'"):
        load_config(write_yaml(tmp_path / "config", simple_doc(namespace="Not_Valid")))
    with pytest.raises(ConfigError, match=r"namespace 'x y' of the namespace argument"):
        load_config(write_yaml(tmp_path / "config", simple_doc()), namespace="x y")


def test_auth_provider_is_reported_as_unsupported(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"user 'u' .* uses the auth-provider 'oidc'.*exec plugin"
    ):
        load_config(_with_user(tmp_path, **{"auth-provider": {"name": "oidc"}}))


def test_basic_auth_is_reported_as_unsupported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="basic authentication"):
        load_config(_with_user(tmp_path, username="a", password="b"))


def test_exec_plugin_together_with_client_certificate_is_rejected(tmp_path: Path, pki: PKI) -> None:
    path = _with_user(
        tmp_path,
        exec={"command": "x", "apiVersion": "client.authentication.k8s.io/v1beta1"},
        **{
            "client-certificate-data": b64(pki.client.cert_pem),
            "client-key-data": b64(pki.client.key_pem),
        },
    )
    with pytest.raises(ConfigError, match="both a client certificate and an exec plugin"):
        load_config(path)


async def test_a_static_token_wins_over_an_exec_plugin_as_in_kubectl(tmp_path: Path) -> None:
    path = _with_user(
        tmp_path,
        token="static",
        exec={"command": "never-run", "apiVersion": "client.authentication.k8s.io/v1beta1"},
    )
    assert (await load_config(path).credentials.get()).token == "static"


def test_errors_never_contain_the_token(tmp_path: Path) -> None:
    doc = simple_doc(user={"token": "s3cr3t-token"})
    doc["clusters"][0]["cluster"]["server"] = "ftp://x"
    with pytest.raises(ConfigError) as info:
        load_config(write_yaml(tmp_path / "config", doc))
    assert "s3cr3t" not in str(info.value)
    config = load_config(
        write_yaml(tmp_path / "config", simple_doc(user={"token": "s3cr3t-token"}))
    )
    assert "s3cr3t" not in repr(config)


def test_ssl_context_trusts_only_the_configured_ca(tmp_path: Path, pki: PKI) -> None:
    config = load_config(
        _with_cluster(tmp_path, **{"certificate-authority-data": b64(pki.ca.cert_pem)})
    )
    ctx = config.ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "test-ca"),),)]
