"""safe_yaml's line-keeping mode: the same JSON data, and the line of every key and item."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.strategies import trees, yaml_documents
from kubeops.config import safe_yaml
from kubeops.config.safe_yaml import MarkedDict, MarkedList, YAMLInputError

TEXT = """\
rules:
  - name: a
    trigger: {source: resource,
              kind: Pod}
    actions:
      - restart: {}
      - notify:
          webhook: {url: "http://x"}
base: &base {x: 1}
merged:
  <<: *base
  y: 2
"""


def test_lines_mode_builds_the_same_data_as_the_plain_mode() -> None:
    plain = safe_yaml.load(TEXT, "t")
    marked = safe_yaml.load(TEXT, "t", lines=True)
    assert json.dumps(marked, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert type(plain) is dict
    assert isinstance(marked, MarkedDict)


def test_every_key_and_item_knows_its_line() -> None:
    data = safe_yaml.load(TEXT, "t", lines=True)
    assert data.line_of("rules") == 1
    rules = data["rules"]
    assert isinstance(rules, MarkedList)
    assert rules.line_of(0) == 2
    rule = rules[0]
    assert (rule.line_of("name"), rule.line_of("trigger"), rule.line_of("actions")) == (2, 3, 5)
    assert rule["trigger"].line_of("kind") == 4
    assert rule["actions"].line_of(1) == 7
    assert rule["actions"][1]["notify"].line_of("webhook") == 8
    assert data["merged"] == {"x": 1, "y": 2}
    assert data["merged"].line_of("y") == 12
    assert rule.line_of("missing") == rule.line == 2
    assert rules.line_of(9) == rules.line


def test_lines_mode_refuses_what_the_plain_mode_refuses() -> None:
    with pytest.raises(YAMLInputError, match=r"t, line 2: .*not supported"):
        safe_yaml.load("a: 1\nb: !!python/name:os.system x\n", "t", lines=True)
    bomb = "a: &a [" + ",".join(["x"] * 20) + "]\n"
    for level in range(1, 8):
        bomb += (
            f"l{level}: &l{level} ["
            + ",".join([f"*{'a' if level == 1 else f'l{level - 1}'}"] * 20)
            + "]\n"
        )
    with pytest.raises(YAMLInputError, match="alias bomb"):
        safe_yaml.load(bomb, "t", lines=True)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(yaml_documents(trees()))
def test_lines_mode_agrees_with_the_plain_mode_on_any_stream(data: bytes) -> None:
    """The same documents or the same refusal, whatever the stream (the fuzzing's
    generator: anchors, tags, bombs, deep nesting, mutations)."""
    try:
        plain = [d.value for d in safe_yaml.load_all(data, "t")]
    except YAMLInputError as err:
        refusal = str(err)
    else:
        refusal = ""
    if refusal:
        with pytest.raises(YAMLInputError) as caught:
            safe_yaml.load_all(data, "t", lines=True)
        assert str(caught.value) == refusal
        return
    marked = [d.value for d in safe_yaml.load_all(data, "t", lines=True)]
    assert json.dumps(marked, sort_keys=True) == json.dumps(plain, sort_keys=True)


@pytest.mark.parametrize("lines", [False, True])
def test_a_seq_tag_on_a_scalar_is_refused_alike_with_its_line(lines: bool) -> None:
    with pytest.raises(YAMLInputError) as caught:
        safe_yaml.load("a: 1\nb: &x [!!seq None]\n", "t", lines=lines)
    assert str(caught.value) == "t, line 2: the value tagged !!seq is not a list"
