"""Fuzzing the other parsers of user and cluster text found in src: env files, RBAC
subjects and short rules, exec-plugin output, hot-reload data, ``Retry-After``,
the deprecated-API metric, ``inspect serve``'s listen address, URLs and schedule,
and the redaction of URLs and terminal text (which must never fail or leak).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from fuzz.harness import bounded, fuzz, only_typed_errors, workdir
from fuzz.strategies import (
    hostile_text,
    mutated,
    sometimes,
    splice,
    trees,
    utf8_text,
    yaml_documents,
)
from kubeops.config import safe_yaml
from kubeops.config.exec_plugin import ExecConfig, parse_exec_output
from kubeops.config.redact import printable, redact_url, strip_userinfo
from kubeops.controller.serving.authn import bearer_token
from kubeops.errors import KubeopsError
from kubeops.inspect.serve.options import parse_listen, validate_url
from kubeops.inspect.serve.schedule import parse_schedule
from kubeops.inspect.snapshot import parse_deprecated_metric
from kubeops.ops.config_data import configmap, decoded, parse_env_file, secret
from kubeops.ops.hot_reload import ConfigData
from kubeops.ops.rbac.attributes import Subject
from kubeops.ops.rbac.service_account import parse_rule
from kubeops.testenv.state import read_owner, read_supervisor_state
from kubeops.transport.backoff import parse_retry_after


@fuzz(
    st.one_of(
        st.binary(max_size=200),
        utf8_text(80).flatmap(lambda t: mutated(f"A=1\n# c\n{t}\n\ufeffB=2\r\n")),
    )
)
def test_env_files(data: bytes) -> None:
    """An env file's contents parse into entries or are refused with one line."""
    only_typed_errors(parse_env_file, data, "fuzz.env", "configmap x")


@fuzz(
    st.one_of(
        splice(
            [
                st.sampled_from(
                    [
                        "user:",
                        "group:",
                        "sa:",
                        "serviceaccount:",
                        "system:serviceaccount:",
                        "/",
                        ":",
                        "ns",
                        "name",
                        "",
                    ]
                ),
                utf8_text(10),
            ]
        ),
        hostile_text(),
    )
)
def test_rbac_subjects(text: str) -> None:
    """An RBAC subject (``sa:NS/NAME``, ``group:devs``...) parses or is refused."""
    subject = only_typed_errors(Subject.parse, text)
    if subject is not None:
        subject.groups()
        assert subject.user is not None


@fuzz(
    st.one_of(
        splice(
            [
                st.sampled_from(
                    [
                        "get",
                        "list",
                        "*",
                        "escalate",
                        "bogus",
                        ",",
                        ":",
                        "pods",
                        "pods/log",
                        "deploy",
                        " ",
                    ]
                ),
                utf8_text(8),
            ],
            max_parts=10,
        ),
        hostile_text(),
    )
)
def test_rbac_short_rules(text: str) -> None:
    """A short rule (``get,list:pods:NAME``) parses or is refused."""
    only_typed_errors(parse_rule, text)


_EXEC = ExecConfig(
    command="/usr/bin/fuzz-plugin",
    api_version="client.authentication.k8s.io/v1",
    where="user 'u' in fuzz",
)
_STATUS = st.fixed_dictionaries(
    {},
    optional={
        "token": sometimes(st.sampled_from(["tok", "", "a\r\nb"]) | utf8_text(10)),
        "clientCertificateData": sometimes(
            st.sampled_from(
                ["-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", "\ud800"]
            )
            | utf8_text(10)
        ),
        "clientKeyData": sometimes(
            st.sampled_from(
                ["-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", "\udfff"]
            )
            | utf8_text(10)
        ),
        "expirationTimestamp": sometimes(
            st.sampled_from(
                ["2030-01-01T00:00:00Z", "9999-99-99", "", "2030-01-01T00:00:00+25:00", "-1"]
            )
            | utf8_text(10)
        ),
    },
)
_EXEC_OUTPUT = st.fixed_dictionaries(
    {
        "kind": sometimes(st.just("ExecCredential")),
        "apiVersion": sometimes(
            st.sampled_from(
                ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
            )
        ),
        "status": sometimes(_STATUS),
    }
)


def _json(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


@fuzz(
    st.one_of(
        _EXEC_OUTPUT.map(_json),
        _EXEC_OUTPUT.map(_json).flatmap(lambda b: mutated(b.decode())),
        st.binary(max_size=100),
        st.sampled_from([b"[" * 100_000, b"1" * 10_000, b'"\\ud800"', b"NaN", b"{}" * 3]),
    ),
    st.binary(max_size=50),
)
def test_exec_plugin_output(stdout: bytes, stderr: bytes) -> None:
    """Whatever an exec plugin prints gives a credential or one line naming the plugin."""
    only_typed_errors(parse_exec_output, stdout, _EXEC, stderr)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_CONFIG_DATA = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["ConfigMap", "Secret"]),
        "metadata": sometimes(
            st.fixed_dictionaries({"name": sometimes(st.just("app")), "namespace": st.just("ns")})
        ),
    },
    optional={
        "data": sometimes(
            st.dictionaries(
                utf8_text(10),
                st.one_of(utf8_text(20), st.binary(max_size=20).map(_b64), st.just("!!notbase64")),
                max_size=3,
            )
        ),
        "binaryData": sometimes(
            st.dictionaries(
                utf8_text(10),
                st.one_of(st.binary(max_size=20).map(_b64), utf8_text(10)),
                max_size=2,
            )
        ),
    },
)


@fuzz(_CONFIG_DATA, yaml_documents(trees(max_leaves=10)))
def test_hot_reload_data(obj: Any, document: bytes) -> None:
    """A ConfigMap or Secret from the cluster decodes, and a key parses as YAML, or is refused."""
    data = only_typed_errors(ConfigData.from_object, obj)
    if data is None:
        return
    data.strings()
    loaded = ConfigData(data.kind, "ns", "app", "u", "1", {"config.yaml": document})
    only_typed_errors(loaded.load, "config.yaml")


@fuzz(
    st.one_of(
        st.none(),
        st.sampled_from(
            [
                "120",
                "0",
                "-1",
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "Wed, 21 Oct 99999 07:28:00 GMT",
                "Mon, 32 Foo 2015 99:99:99 GMT",
                "9" * 5000,
                "١٢٣",
            ]
        ),
        hostile_text(),
    )
)
def test_retry_after(value: str | None) -> None:
    """A server's ``Retry-After`` header gives seconds or None, never an exception."""
    with bounded():
        seconds = parse_retry_after(value, now=0.0)
    assert seconds is None or seconds >= 0


_METRIC_LINE = splice(
    [
        st.just("apiserver_requested_deprecated_apis{"),
        st.sampled_from(
            [
                'group="batch"',
                'version="v1beta1"',
                'resource="cronjobs"',
                'subresource="status"',
                'removed_release="1.25"',
                ",",
                "}",
                " 1",
                '"',
                "\n",
            ]
        ),
        utf8_text(10),
    ],
    max_parts=8,
)


@fuzz(st.one_of(st.lists(_METRIC_LINE, max_size=5).map("\n".join), hostile_text(200)))
def test_deprecated_api_metric(text: str) -> None:
    """The API server's /metrics text (cluster data) becomes pseudo-objects, never an exception."""
    only_typed_errors(parse_deprecated_metric, text)


_LISTEN = st.one_of(
    splice(
        [
            st.sampled_from(["127.0.0.1", "[::1]", "::1", "", "[", "]", "localhost", "0.0.0.0"]),
            st.sampled_from([":", ":8080", ":99999", ":²", ":٣", ":-1", ":0"]),
        ],
        max_parts=3,
    ),
    hostile_text(),
)


@fuzz(_LISTEN)
def test_serve_listen(text: str) -> None:
    """``inspect serve --listen`` parses to a host and port or is refused."""
    only_typed_errors(parse_listen, text)


_URLS = st.one_of(
    splice(
        [
            st.sampled_from(["https://", "http://", "ftp://", "//", ""]),
            st.sampled_from(["user:s3cr3t@", "user@", ":pw@", "a:b:c@", "@", "u:p@q@"]),
            st.sampled_from(
                ["hooks.example.com", "[::1", "[::1]", "h:99999", "h:port", "h:²", "h:0", "💥"]
            ),
            st.sampled_from(
                ["/services/T0/B0/xyz", "/", "?token=t0k3n", "#frag", "?password=pw&a=b"]
            ),
        ],
        max_parts=5,
    ),
    hostile_text(),
)


@fuzz(_URLS, st.sampled_from(["--webhook", "--report-url"]))
def test_serve_urls(text: str, flag: str) -> None:
    """``inspect serve``'s URL flags are accepted or refused, never showing a password."""
    message = ""
    with bounded():
        try:
            validate_url(text, flag)
        except KubeopsError as err:
            message = str(err)
    assert "s3cr3t" not in message
    assert "t0k3n" not in message or flag != "--webhook"


@fuzz(
    st.one_of(st.none(), st.sampled_from(["1h", "1ms", "0s", "-1s", "1e9h"]), hostile_text()),
    st.one_of(
        st.none(),
        st.sampled_from(["*/15 * * * *", "* * * * * *", "61 * * * *", "@hourly", "* * 31 2 *"]),
        hostile_text(),
    ),
)
def test_serve_schedule(interval: str | None, cron: str | None) -> None:
    """``--interval``/``--cron`` give a schedule or are refused."""
    schedule = only_typed_errors(parse_schedule, interval, cron)
    if schedule is not None:
        only_typed_errors(schedule.after, 0.0, 1_700_000_000.0)


@fuzz(_URLS, st.booleans())
def test_redaction(url: str, secret_path: bool) -> None:
    """Redacting a URL never fails and never shows a password (or a webhook's path)."""
    with bounded():
        shown = redact_url(url, secret_path=secret_path)
        stripped = strip_userinfo(url) if "s3cr3t" in url else ""
    assert "s3cr3t" not in shown, (url, shown)
    assert "s3cr3t" not in stripped, (url, stripped)
    if secret_path:
        assert "/services/T0" not in shown, (url, shown)
        assert "t0k3n" not in shown, (url, shown)


@fuzz(hostile_text(200))
def test_printable(text: str) -> None:
    """Terminal text keeps no control character other than newline and tab."""
    with bounded():
        shown = printable(text)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in shown)


@fuzz(yaml_documents(trees()), weight=3)
def test_safe_yaml(data: bytes) -> None:
    """The one YAML loader (rules, policies and every other YAML kubeops reads) loads
    JSON-like data or refuses the stream with one line."""
    documents = only_typed_errors(safe_yaml.load_all, data, "fuzz.yaml")
    for document in documents or []:
        json.dumps(document.value)


_LITERAL = splice(
    [st.sampled_from(["key", "a.b", "..", ".", "-x", "=", "==", "k=", "=v"]), utf8_text(10)],
    max_parts=4,
)
_FILE_SOURCE = splice(
    [
        st.sampled_from(["key=", "=", "data.txt", "missing", "a-directory", "/dev/zero"]),
        utf8_text(8),
    ],
    max_parts=3,
)


@fuzz(st.lists(_LITERAL, max_size=4), st.lists(_FILE_SOURCE, max_size=2), st.booleans())
def test_config_data_sources(literals: list[str], files: list[str], as_secret: bool) -> None:
    """``create configmap|secret --from-literal/--from-file`` build an object or are refused."""
    base = workdir()
    (base / "data.txt").write_bytes(b"\xff\x00text")
    (base / "a-directory").mkdir(exist_ok=True)
    sources = [
        f if f.startswith("/") or "=" in f else str(base / f) for f in files
    ]  # names relative to the scratch directory
    build = secret if as_secret else configmap
    obj = only_typed_errors(build, "fuzz", literals=literals, files=sources)
    if obj is not None:
        only_typed_errors(decoded, obj)


@fuzz(
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["Secret", "ConfigMap", None])},
        optional={
            "metadata": sometimes(st.just({"name": "x"})),
            "data": sometimes(
                st.dictionaries(
                    utf8_text(8),
                    st.one_of(utf8_text(10), st.binary(max_size=10).map(_b64)),
                    max_size=3,
                )
            ),
            "binaryData": sometimes(st.dictionaries(utf8_text(8), utf8_text(10), max_size=2)),
            "stringData": sometimes(st.dictionaries(utf8_text(8), utf8_text(10), max_size=2)),
        },
    )
)
def test_decoded_cluster_data(obj: dict[str, Any]) -> None:
    """A Secret or ConfigMap read from the cluster decodes or is refused with one line."""
    only_typed_errors(decoded, obj)


@fuzz(
    st.one_of(
        st.none(),
        splice(
            [
                st.sampled_from(["Bearer ", "bearer", "Basic ", " ", "\t", "x" * 5000]),
                utf8_text(20),
            ],
            max_parts=4,
        ),
    )
)
def test_daemon_bearer_header(header: str | None) -> None:
    """A daemon's ``Authorization`` header gives a token or is refused with one line."""
    only_typed_errors(bearer_token, header)


_STATE = st.fixed_dictionaries(
    {},
    optional={
        "pid": sometimes(st.integers(-5, 2**70)),
        "started": sometimes(st.one_of(st.floats(), st.integers(), utf8_text(10))),
        "uid": sometimes(st.integers()),
        "status": sometimes(utf8_text(10)),
        "clusters": sometimes(st.lists(utf8_text(8), max_size=3)),
        "socket": sometimes(utf8_text(10)),
    },
)


@fuzz(
    st.one_of(
        _STATE.map(_json),
        _STATE.map(_json).flatmap(lambda b: mutated(b.decode())),
        st.binary(max_size=50),
    )
)
def test_testenv_state_files(content: bytes) -> None:
    """A testenv state or owner file, however corrupt, is read or refused with one line."""
    path = workdir() / "testenv.json"
    path.write_bytes(content)
    only_typed_errors(read_supervisor_state, path)
    only_typed_errors(read_owner, path)


_SEGMENTS = st.one_of(
    st.none(),
    st.sampled_from(["", ".", "..", "a/b", "%2e%2e", "web", "\udcff", "a b", "..a", "🙂", "\x00"]),
    hostile_text(20),
)


@fuzz(_SEGMENTS, _SEGMENTS, _SEGMENTS)
def test_rest_path_segments(
    namespace: str | None, name: str | None, subresource: str | None
) -> None:
    """A name, namespace or subresource from the command line is one path segment or is
    refused: no input addresses another object after the server cleans the path."""
    from kubeops.api.resource import _r

    resource = _r("v1", "ConfigMap", "configmaps")
    path = only_typed_errors(resource.path, namespace, name, subresource)
    if path is None:
        return
    segments = path.split("/")
    assert not [s for s in segments[1:] if s in ("", ".", "..")], path
    expected = 4 + (2 if namespace else 0) + (1 if name is not None else 0)
    expected += 1 if name is not None and subresource else 0
    assert len(segments) == expected, (path, namespace, name, subresource)
