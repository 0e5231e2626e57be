"""Which kubeconfig files are read, how they merge, and how broken ones are reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeops.config import ConfigError, load_kubeconfig

from .samples import kubeconfig_doc, write_yaml


def test_kubeconfig_unset_reads_home_kube_config(isolated_env: Path) -> None:
    path = write_yaml(isolated_env / ".kube" / "config", kubeconfig_doc(current="home"))
    raw = load_kubeconfig()
    assert raw.files == (path,)
    assert raw.current_context == "home"


def test_kubeconfig_env_list_is_split_deduplicated_and_skips_missing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_yaml(tmp_path / "a", kubeconfig_doc(current="a"))
    b = write_yaml(tmp_path / "b", kubeconfig_doc(current="b"))
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(missing), "", str(b), str(a)]))
    raw = load_kubeconfig()
    assert raw.searched == (a, missing, b)
    assert raw.files == (a, b)


def test_kubeconfig_env_replaces_the_home_file(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(isolated_env / ".kube" / "config", kubeconfig_doc(current="home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    raw = load_kubeconfig()
    assert raw.files == ()
    assert raw.is_empty


def test_first_file_wins_for_each_entry_taken_whole_and_for_current_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_yaml(
        tmp_path / "first",
        kubeconfig_doc(
            clusters={"shared": {"server": "https://first"}},
            users={"u1": {"token": "a"}},
        ),
    )
    second = write_yaml(
        tmp_path / "second",
        kubeconfig_doc(
            clusters={
                "shared": {"server": "https://second", "insecure-skip-tls-verify": True},
                "only-second": {"server": "https://other"},
            },
            contexts={"ctx": {"cluster": "shared"}},
            current="from-second",
        ),
    )
    third = write_yaml(tmp_path / "third", kubeconfig_doc(current="from-third"))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, [first, second, third])))
    raw = load_kubeconfig()
    assert raw.clusters["shared"].origin == first
    # Taken whole: the second file's extra field does not leak into the first's entry.
    assert dict(raw.clusters["shared"].fields) == {"server": "https://first"}
    assert raw.clusters["only-second"].origin == second
    assert set(raw.contexts) == {"ctx"}
    assert raw.current_context == "from-second"
    assert raw.current_context_origin == second


def test_explicit_file_loads_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write_yaml(tmp_path / "env", kubeconfig_doc(clusters={"env": {"server": "x"}}))
    explicit = write_yaml(tmp_path / "explicit", kubeconfig_doc(current="mine"))
    monkeypatch.setenv("KUBECONFIG", str(env_file))
    raw = load_kubeconfig(explicit)
    assert raw.files == (explicit,)
    assert "env" not in raw.clusters


def test_explicit_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"kubeconfig .*/nope does not exist"):
        load_kubeconfig(tmp_path / "nope")


def test_a_sequence_of_paths_merges_like_kubeconfig_env(tmp_path: Path) -> None:
    a = write_yaml(tmp_path / "a", kubeconfig_doc(current="a"))
    raw = load_kubeconfig([tmp_path / "missing", a])
    assert raw.files == (a,)
    assert raw.current_context == "a"


def test_relative_paths_resolve_against_the_defining_file(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "conf" / "kubeconfig",
        kubeconfig_doc(
            clusters={"c": {"server": "https://x", "certificate-authority": "pki/ca.crt"}},
            users={
                "u": {
                    "client-certificate": "pki/u.crt",
                    "client-key": "/abs/u.key",
                    "tokenFile": "token",
                    "exec": {"command": "./bin/plugin", "apiVersion": "v"},
                },
                "path-lookup": {"exec": {"command": "aws"}},
            },
        ),
    )
    raw = load_kubeconfig(path)
    base = tmp_path / "conf"
    assert raw.clusters["c"].fields["certificate-authority"] == str(base / "pki/ca.crt")
    user = raw.users["u"].fields
    assert user["client-certificate"] == str(base / "pki/u.crt")
    assert user["client-key"] == "/abs/u.key"
    assert user["tokenFile"] == str(base / "token")
    assert user["exec"]["command"] == str(base / "bin/plugin")
    assert raw.users["path-lookup"].fields["exec"]["command"] == "aws"


def test_relative_paths_in_a_later_file_resolve_against_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_yaml(tmp_path / "one" / "config", kubeconfig_doc())
    second = write_yaml(
        tmp_path / "two" / "config",
        kubeconfig_doc(clusters={"c": {"server": "s", "certificate-authority": "ca.crt"}}),
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    raw = load_kubeconfig()
    assert raw.clusters["c"].fields["certificate-authority"] == str(tmp_path / "two" / "ca.crt")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: x\nusers: []\n")
    with pytest.raises(ConfigError, match=r"config, line \d+, column \d+: not valid YAML") as info:
        load_kubeconfig(path)
    assert str(path) in str(info.value)


def test_yaml_error_message_does_not_quote_the_offending_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("users:\n- name: u\n  user:\n    token: s3cr3t-value: broken\n")
    with pytest.raises(ConfigError, match="line 4") as info:
        load_kubeconfig(path)
    assert "s3cr3t" not in str(info.value)


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    raw = load_kubeconfig(path)
    assert raw.files == (path,)
    assert raw.is_empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "top level must be a mapping, not a list"),
        ("clusters: {a: 1}\n", "clusters must be a list, not a mapping"),
        ("users:\n- user: {}\n", r"users\[0\] has no name"),
        (
            "contexts:\n- name: x\n  context: [1]\n",
            r"contexts\[0\] \('x'\): context must be a mapping",
        ),
        (
            "clusters:\n- name: a\n  cluster: {}\n- name: a\n  cluster: {}\n",
            "cluster 'a' is defined twice",
        ),
        ("current-context: [a]\n", "current-context must be a string"),
    ],
)
def test_structural_problems_are_reported_with_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_kubeconfig(path)
    assert str(path) in str(info.value)


def test_unreadable_kubeconfig_reports_the_os_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read kubeconfig .*: Is a directory"):
        load_kubeconfig(tmp_path)


def test_merged_view_serialises_as_one_kubeconfig(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "config",
        kubeconfig_doc(
            clusters={"c": {"server": "https://x"}},
            users={"u": {"token": "t"}},
            contexts={"ctx": {"cluster": "c", "user": "u"}},
            current="ctx",
        ),
    )
    doc = load_kubeconfig(path).to_dict()
    assert doc["clusters"] == [{"name": "c", "cluster": {"server": "https://x"}}]
    assert doc["users"] == [{"name": "u", "user": {"token": "t"}}]
    assert doc["contexts"] == [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}]
    assert doc["current-context"] == "ctx"


def test_entry_repr_does_not_show_its_fields(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "config", kubeconfig_doc(users={"u": {"token": "s3cr3t"}}))
    text = repr(load_kubeconfig(path))
    assert "s3cr3t" not in text
    assert f"KubeconfigEntry(name='u', origin={path!r})" in text  # which entry, from where


def test_parse_kubeconfig_reads_text_and_names_its_origin_in_errors() -> None:
    from kubeops.config import ConfigError, parse_kubeconfig

    text = """
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
    parsed = parse_kubeconfig(text, "Secret kubeops-sync/member-b")
    assert parsed.current_context == "x"
    assert parsed.clusters["c"].fields["server"] == "https://127.0.0.1:6443"
    with pytest.raises(ConfigError, match="Secret kubeops-sync/member-b: clusters must be a list"):
        parse_kubeconfig("clusters: {}", "Secret kubeops-sync/member-b")
    with pytest.raises(ConfigError, match="member-b: the top level must be a mapping"):
        parse_kubeconfig("- a", "Secret kubeops-sync/member-b")
