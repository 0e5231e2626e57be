"""Token files are re-read on a schedule and after a 401, and survive a bad re-read."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kubeops.config import (
    ConfigError,
    Credential,
    CredentialSource,
    StaticCredentials,
    TokenFileCredentials,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _source(path: Path, clock: Clock, interval: float = 50.0) -> TokenFileCredentials:
    return TokenFileCredentials(path, refresh_interval=interval, clock=clock)


async def test_rotated_token_is_picked_up_after_the_refresh_interval(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one\n")
    clock = Clock()
    source = _source(path, clock)
    assert (await source.get()).token == "one"
    path.write_text("two\n")
    clock.now += 49
    assert (await source.get()).token == "one"
    clock.now += 1
    assert (await source.get()).token == "two"


async def test_invalidate_forces_a_reread_before_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    source = _source(path, Clock())
    assert (await source.get()).token == "one"
    path.write_text("two")
    source.invalidate()
    assert (await source.get()).token == "two"


async def test_failed_reread_keeps_the_old_token_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    clock = Clock()
    source = _source(path, clock)
    assert (await source.get()).token == "one"
    path.unlink()
    clock.now += 60
    with caplog.at_level(logging.WARNING, logger="kubeops.config.credentials"):
        assert (await source.get()).token == "one"
        source.invalidate()
        assert (await source.get()).token == "one"
    assert len(caplog.records) == 1
    assert "keeping the token read before" in caplog.records[0].getMessage()
    path.write_text("three")
    assert (await source.get()).token == "three"


async def test_empty_token_file_counts_as_a_failed_read(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    clock = Clock()
    source = _source(path, clock)
    await source.get()
    path.write_text("  \n")
    source.invalidate()
    assert (await source.get()).token == "one"


async def test_first_read_failure_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("")
    with pytest.raises(ConfigError, match=r"token file .*token is empty"):
        await _source(path, Clock()).get()


async def test_token_file_falls_back_to_the_initial_token_until_readable(tmp_path: Path) -> None:
    path = tmp_path / "token"
    source = TokenFileCredentials(path, token="inline", clock=Clock())
    assert (await source.get()).token == "inline"
    path.write_text("from-file")
    source.invalidate()
    assert (await source.get()).token == "from-file"


async def test_token_file_credential_carries_the_client_certificate(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("t")
    source = TokenFileCredentials(path, client_cert_pem=b"CERT", client_key_pem=b"KEY")
    cred = await source.get()
    assert (cred.token, cred.client_cert_pem, cred.client_key_pem) == ("t", b"CERT", b"KEY")
    assert source.describe() == f"client certificate and token file {path}"


async def test_static_credentials_describe_what_they_hold() -> None:
    both = StaticCredentials(Credential(token="t", client_cert_pem=b"c", client_key_pem=b"k"))
    assert both.describe() == "client certificate and token"
    assert StaticCredentials(Credential(token="t")).describe() == "token"
    assert StaticCredentials().describe() == "no credentials"
    both.invalidate()
    assert (await both.get()).token == "t"


def test_sources_satisfy_the_credential_source_protocol(tmp_path: Path) -> None:
    assert isinstance(StaticCredentials(), CredentialSource)
    assert isinstance(TokenFileCredentials(tmp_path / "t"), CredentialSource)


def test_credential_repr_hides_secrets() -> None:
    text = repr(Credential(token="s3cr3t", client_key_pem=b"PRIVATE", client_cert_pem=b"CERT"))
    assert "s3cr3t" not in text
    assert "PRIVATE" not in text
    assert text.startswith("Credential(")
    assert repr(StaticCredentials(Credential(token="s3cr3t"))) == "StaticCredentials('token')"
