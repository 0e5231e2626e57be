"""Finding 1 (unbounded reads) and 2 (YAML alias bombs) of the hardening issue, replayed.

Each hostile input must be refused fast with one line naming the file and the
cause: exit 1 from the CLI (run with a 1 GiB address-space limit, so growing
memory would kill it instead of passing), or a typed error from the library.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubeops.api.manifest import ManifestError, load_manifests, parse_manifests
from kubeops.config import ConfigError, ExecPluginError, load_config, safe_yaml
from kubeops.config.inputs import KUBECONFIG_LIMIT, InputError, read_bounded
from kubeops.inspect.config import InspectConfigError, load_inspect_config

GiB = 1024**3


def _alias_bomb(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


BOMB_MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "".join(
    f"  {line}\n" for line in _alias_bomb().splitlines()
)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GiB, GiB))


def _kubeops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        env={**os.environ, "KUBECONFIG": "/nonexistent", **(env or {})},
    )
    assert time.monotonic() - started < 30, "took too long"
    return result


def _one_line_exit_1(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _kubeconfig(path: Path, *, cluster: str = "", user: str = "token: t") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:1\n"
        + (f"    {cluster}\n" if cluster else "")
        + "users:\n- name: u\n  user:\n"
        + "".join(f"    {line}\n" for line in user.splitlines())
        + "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
    )
    return path


# --- finding 1: unbounded reads -----------------------------------------------------------


def test_dev_zero_as_kubeconfig_cli() -> None:
    result = _kubeops("get", "pods", "--kubeconfig", "/dev/zero")
    _one_line_exit_1(result, "/dev/zero", "larger than 16 MiB")


def test_dev_zero_as_kubeconfig_library() -> None:
    with pytest.raises(ConfigError, match=r"kubeconfig /dev/zero: larger than 16 MiB"):
        load_config("/dev/zero")


def test_large_kubeconfig_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "config"
    with big.open("wb") as file:
        file.truncate(KUBECONFIG_LIMIT + 1)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"larger than 16 MiB, the limit for it"):
        load_config(big)
    assert time.monotonic() - started < 1
    result = _kubeops("get", "pods", "--kubeconfig", str(big))
    _one_line_exit_1(result, str(big), "16 MiB")


def test_dev_zero_as_token_file(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", user="tokenFile: /dev/zero")
    with pytest.raises(ConfigError, match=r"token file /dev/zero: larger than 1 MiB"):
        load_config(config)
    result = _kubeops("get", "pods", "--kubeconfig", str(config))
    _one_line_exit_1(result, "/dev/zero", "larger than 1 MiB")


def test_dev_zero_as_certificate_authority(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", cluster="certificate-authority: /dev/zero")
    with pytest.raises(ConfigError, match=r"certificate-authority .*/dev/zero: larger than 1 MiB"):
        load_config(config)
    result = _kubeops("get", "pods", "--kubeconfig", str(config))
    _one_line_exit_1(result, "certificate-authority", "/dev/zero", "1 MiB")


def test_dev_zero_as_client_key(tmp_path: Path) -> None:
    config = _kubeconfig(
        tmp_path / "config", user="client-certificate: /dev/zero\nclient-key: /dev/zero"
    )
    with pytest.raises(ConfigError, match=r"client-certificate .*/dev/zero: larger than 1 MiB"):
        load_config(config)


def test_exec_plugin_printing_endlessly_is_killed(tmp_path: Path) -> None:
    user = (
        'exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: "yes"\n'
        "  interactiveMode: Never"
    )
    config = _kubeconfig(tmp_path / "config", user=user)

    async def credential() -> None:
        await load_config(config).credentials.get()

    started = time.monotonic()
    with pytest.raises(ExecPluginError, match=r"printed more than 4 MiB on stdout .*killed"):
        asyncio.run(credential())
    assert time.monotonic() - started < 10
    result = _kubeops("get", "pods", "--kubeconfig", str(config))
    _one_line_exit_1(result, "more than 4 MiB", "killed")


def test_dev_zero_as_manifest_and_inspect_config(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest /dev/zero: larger than 64 MiB"):
        load_manifests(["/dev/zero"])
    with pytest.raises(InspectConfigError, match=r"inspect config /dev/zero: larger than 16 MiB"):
        load_inspect_config("/dev/zero")


def test_read_bounded_names_file_limit_and_cause(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^env file /dev/zero: larger than 1 KiB, the limit"):
        read_bounded("/dev/zero", limit=1024, what="env file")
    with pytest.raises(InputError, match=r"cannot read it: No such file") as info:
        read_bounded(tmp_path / "absent", limit=1024, what="file")
    assert info.value.missing


# --- finding 2: YAML alias bombs ----------------------------------------------------------


def test_alias_bomb_in_apply_cli(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB_MANIFEST)
    result = _kubeops("apply", "-f", str(bomb), "--kubeconfig", str(config))
    _one_line_exit_1(result, str(bomb), "YAML aliases expand beyond", "alias bomb")


def test_alias_bomb_in_manifest_library() -> None:
    started = time.monotonic()
    with pytest.raises(ManifestError, match=r"^x.yaml: YAML aliases expand beyond \d+ nodes"):
        parse_manifests(BOMB_MANIFEST, "x.yaml")
    assert time.monotonic() - started < 1


def test_alias_bomb_in_inspect_config(tmp_path: Path) -> None:
    bomb = tmp_path / "inspect.yaml"
    bomb.write_text("settings:\n" + "".join(f"  {x}\n" for x in _alias_bomb().splitlines()))
    with pytest.raises(InspectConfigError, match=r"YAML aliases expand beyond \d+ nodes"):
        load_inspect_config(bomb)
    result = _kubeops("inspect", "--config", str(bomb), "--kubeconfig", "/nonexistent")
    _one_line_exit_1(result, str(bomb), "YAML aliases expand beyond")


def test_alias_bomb_in_kubeconfig(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("preferences:\n" + "".join(f"  {x}\n" for x in _alias_bomb().splitlines()))
    with pytest.raises(ConfigError, match=r"kubeconfig .*: YAML aliases expand beyond"):
        load_config(config)


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(ManifestError, match=r"deep.yaml, line 1, column \d+: .*nesting depth"):
        load_manifests([deep])
    result = _kubeops("apply", "-f", str(deep), "--kubeconfig", str(_kubeconfig(tmp_path / "c")))
    _one_line_exit_1(result, "deep.yaml", "nesting depth")
    with pytest.raises(ManifestError, match=r"x, line 1: nested deeper than 128 levels"):
        parse_manifests("[" * 200 + "]" * 200, "x")
    block = "".join(" " * level + "- \n" for level in range(0, 400, 2))
    with pytest.raises(ManifestError, match=r"nested deeper than 128 levels"):
        parse_manifests(block, "x")


def test_self_referencing_alias_and_unsafe_tags_are_typed_errors() -> None:
    with pytest.raises(safe_yaml.YAMLInputError, match="refers to a node that contains it"):
        safe_yaml.load("&a [*a]", "x")
    with pytest.raises(
        ManifestError, match=r"the tag !!python/object/apply:os\.system is not supported"
    ):
        parse_manifests("a: !!python/object/apply:os.system [true]", "x")


def test_ordinary_aliases_still_load() -> None:
    text = "base: &b {cpu: 100m, memory: 64Mi}\nmerged: {<<: *b, cpu: 200m}\nsame: *b\n"
    assert safe_yaml.load(text, "x") == {
        "base": {"cpu": "100m", "memory": "64Mi"},
        "merged": {"cpu": "200m", "memory": "64Mi"},
        "same": {"cpu": "100m", "memory": "64Mi"},
    }


def test_a_path_with_a_nul_character_is_one_error_naming_it() -> None:
    with pytest.raises(
        InputError, match=r"kubeconfig 'a\\x00b': cannot read it: not a usable path"
    ):
        read_bounded("a\x00b", limit=10, what="kubeconfig")
