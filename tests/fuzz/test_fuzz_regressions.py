"""Every finding of the fuzzing, replayed as a fixed example (they stay fixed even
when the generators change)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kubeops.config.credentials import read_token_file
from kubeops.config.errors import ConfigError, ExecPluginError
from kubeops.config.exec_plugin import ExecConfig, parse_exec_output
from kubeops.config.redact import redact_url, strip_userinfo
from kubeops.inspect.snapshot import parse_deprecated_metric
from kubeops.models import DurationError, Quantity, cpu_cores, parse_duration
from kubeops.ops.hot_reload import ConfigData, HotReloadError
from kubeops.transport.backoff import parse_retry_after

_EXEC = ExecConfig(command="plugin", where="user 'u'")


def test_a_duration_beyond_a_float_is_refused() -> None:
    with pytest.raises(DurationError):
        parse_duration("9" * 400)


def test_a_quantity_beyond_a_float_converts_to_infinity() -> None:
    assert cpu_cores("9" * 400) == math.inf
    assert float(Quantity("-1e400")) == -math.inf


@pytest.mark.parametrize("stdout", [b"[" * 100_000, b"1" * 10_000])
def test_exec_output_python_cannot_read_is_a_plugin_error(stdout: bytes) -> None:
    with pytest.raises(ExecPluginError, match="nested too deeply or with a number too long"):
        parse_exec_output(stdout, _EXEC)


def test_a_retry_after_of_thousands_of_digits_is_ignored() -> None:
    assert parse_retry_after("9" * 5000) is None


@pytest.mark.parametrize(
    "obj", [{"metadata": "x"}, {"metadata": [1]}, {"data": "x"}, {"kind": "Secret", "data": [1]}]
)
def test_hot_reload_data_of_the_wrong_shape_is_refused(obj: dict[str, object]) -> None:
    with pytest.raises(HotReloadError, match="not a mapping"):
        ConfigData.from_object(obj)


def test_a_metric_line_without_its_closing_brace_is_skipped() -> None:
    assert parse_deprecated_metric('apiserver_requested_deprecated_apis{group="batch"') == []


@pytest.mark.parametrize(
    "url", ["user:s3cr3t@", "ftp://https://user:s3cr3t@", "user:s3cr3t@host/x"]
)
def test_a_password_is_masked_where_the_url_has_no_host(url: str) -> None:
    assert "s3cr3t" not in redact_url(url)
    assert "s3cr3t" not in redact_url(url, secret_path=True)
    assert "s3cr3t" not in strip_userinfo(url)


def test_a_plugin_token_with_a_line_break_is_refused() -> None:
    output = b'{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "status": {"token": "a\\r\\nX-Evil: 1"}}'
    with pytest.raises(ExecPluginError, match="control character"):
        parse_exec_output(output, _EXEC)


def test_a_token_file_with_a_line_break_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"tok\r\nen\n")
    with pytest.raises(ConfigError, match="control character"):
        read_token_file(path)


@pytest.mark.parametrize("spec", [5, {"template": "x"}, {"jobTemplate": [1]}])
def test_a_workload_whose_template_is_not_a_mapping_has_no_pod_spec(spec: object) -> None:
    from kubeops.inspect.snapshot import Snapshot

    objects = [
        {"kind": kind, "metadata": {"name": "w"}, "spec": spec}
        for kind in ("Deployment", "CronJob")
    ]
    assert Snapshot.from_objects(objects).pod_specs() == []


@pytest.mark.parametrize(
    "obj", [{"metadata": None, "data": {"a": "b"}}, {"kind": "Secret", "data": "x"}]
)
def test_decoding_cluster_data_of_the_wrong_shape_is_one_error(obj: dict[str, object]) -> None:
    from kubeops.ops.config_data import ConfigDataError, decoded

    if isinstance(obj.get("data"), dict):
        assert decoded(obj) == {"a": b"b"}
    else:
        with pytest.raises(ConfigDataError, match="not a mapping"):
            decoded(obj)


def test_an_upper_case_registry_prints_back_as_a_registry() -> None:
    from kubeops.models import ImageReference

    reference = ImageReference.parse("UPPER/nginx")
    assert reference.registry == "UPPER"
    assert ImageReference.parse(str(reference)) == reference
    assert reference.comes_from(["upper"])


@pytest.mark.parametrize(
    "url",
    [
        "https://user:s3cr3t@https://user:s3cr3t@",
        "/services/T0/B0/xyzhttps://",
        "user:s3cr3t@user:s3cr3t@",
    ],
)
def test_redaction_of_urls_without_a_usable_host(url: str) -> None:
    assert "s3cr3t" not in redact_url(url)
    assert "s3cr3t" not in strip_userinfo(url)
    assert "T0" not in redact_url(url, secret_path=True)


def test_redacting_long_text_is_linear() -> None:
    import time

    start = time.process_time()
    for text in (" " + "9" * 50_000, "?" * 50_000, "a" * 50_000 + ":"):
        redact_url(text)
        redact_url(text, secret_path=True)
    assert time.process_time() - start < 1.0


@pytest.mark.parametrize("source", ["\n", "9" * 5000])
def test_a_file_source_that_cannot_be_a_file_is_one_line(source: str) -> None:
    from kubeops.ops.config_data import ConfigDataError, configmap

    with pytest.raises(ConfigDataError) as info:
        configmap("x", files=[source])
    assert "\n" not in str(info.value)


def test_a_unicode_digit_is_not_a_port() -> None:
    from kubeops.controller.serving import ServingError, parse_listen

    with pytest.raises(ServingError, match="expected HOST:PORT"):
        parse_listen(":\u00b2")


def test_context_names_listed_in_an_error_stay_on_one_line(tmp_path: Path) -> None:
    from kubeops.config import load_config

    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        'contexts: [{name: "a\\nb", context: {cluster: c, user: u}}]\n'
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(kubeconfig=str(path))
    assert "a\\nb" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_kind_with_a_line_break_stays_on_one_line() -> None:
    from kubeops.api.manifest import ManifestError, parse_manifests

    with pytest.raises(ManifestError, match=r"\\r\\n has no metadata.name") as info:
        parse_manifests('apiVersion: v1\nkind: "\\r\\n"\nmetadata: {}\n', source="m.yaml")
    assert "\n" not in str(info.value)


def test_a_plugin_certificate_that_is_not_utf8_is_refused() -> None:
    stdout = (
        b'{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",'
        b' "status": {"clientCertificateData": "\\ud800", "clientKeyData": "k"}}'
    )
    with pytest.raises(ExecPluginError, match="not valid UTF-8"):
        parse_exec_output(stdout, _EXEC)


def test_a_config_map_name_with_a_line_break_stays_on_one_line() -> None:
    obj = {"kind": "Secret", "metadata": {"namespace": "ns", "name": "\n"}, "data": {"": "!"}}
    with pytest.raises(HotReloadError, match=r"secret ns/\\n: key '' is not valid base64") as info:
        ConfigData.from_object(obj)
    assert "\n" not in str(info.value)
