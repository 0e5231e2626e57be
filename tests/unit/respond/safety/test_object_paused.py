"""The per-object pause annotation."""

from __future__ import annotations

import pytest

from kubeops.respond.killswitch import object_paused


@pytest.mark.parametrize(
    ("annotations", "paused"),
    [
        ({"respond.kubeops.io/paused": "true"}, True),
        ({"respond.kubeops.io/paused": " True "}, True),
        ({"respond.kubeops.io/paused": "false"}, False),
        ({"respond.kubeops.io/paused": "yes"}, False),
        ({"other": "true"}, False),
        (None, False),
        ("not a mapping", False),
    ],
)
def test_the_annotation_pauses_only_when_true(annotations: object, paused: bool) -> None:
    obj = {"metadata": {"name": "web", "annotations": annotations}}
    assert object_paused(obj) is paused


def test_no_object_is_not_paused() -> None:
    assert not object_paused(None)
    assert not object_paused({})
