"""decode_json pauses the cyclic GC for large bodies and always leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import orjson
import pytest

from kubeops.transport.transport import GC_PAUSE_BYTES, decode_json


@pytest.fixture(autouse=True)
def _gc_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def _large() -> bytes:
    body = orjson.dumps({"items": [{"metadata": {"name": f"cm-{i}"}} for i in range(20_000)]})
    assert len(body) >= GC_PAUSE_BYTES
    return body


def test_small_and_large_bodies_decode_the_same() -> None:
    assert decode_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert decode_json(_large()) == orjson.loads(_large())


def test_collector_is_paused_only_during_a_large_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = orjson.loads

    def spy(content: bytes) -> object:
        seen.append(gc.isenabled())
        return real(content)

    monkeypatch.setattr("kubeops.transport.transport.orjson.loads", spy)
    gc.enable()
    decode_json(b"{}")
    decode_json(_large())
    assert seen == [True, False]
    assert gc.isenabled()


def test_a_failed_decode_turns_the_collector_back_on() -> None:
    gc.enable()
    with pytest.raises(orjson.JSONDecodeError):
        decode_json(_large()[:-1])
    assert gc.isenabled()


def test_a_collector_switched_off_elsewhere_stays_off() -> None:
    gc.disable()
    decode_json(_large())
    assert not gc.isenabled()
