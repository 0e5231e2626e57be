"""Rule files validated whole: every mistake is one line naming file, line, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeops.respond.rules import RuleError, load_rules

GOOD = """\
rules:
  - name: scale-on-cpu
    description: scale web out
    trigger: {source: usage, kind: Pod, namespaces: [prod], selector: app=web,
              params: {resource: cpu, above: 90, for: 1m}}
    conditions: ["object.metadata.namespace == 'prod'"]
    actions: [{scale: {target: owner, factor: 2, max: 10}}]
    safety: {cooldown: 5m, maxActions: {count: 3, per: 10m}, dedup: 1m,
             maxScalePercent: 100, maxDrainedNodes: {count: 1, per: 1h}, dryRun: true}
  - name: nightly
    trigger: {source: schedule, params: {cron: "0 3 * * *"}}
    actions: [{recordEvent: {reason: Nightly, message: hello, type: Normal}}]
limits: {maxActions: {count: 20, per: 1m}, namespace: ops, killSwitch: stop}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    return [p.replace(f"{path}:", "F:") for p in caught.value.problems]


def test_a_good_file_loads_with_its_safety_limits_and_built_actions(tmp_path: Path) -> None:
    ruleset = load_rules([write(tmp_path, GOOD)])
    cpu = ruleset.rule("scale-on-cpu")
    assert cpu.trigger.params == {"resource": "cpu", "above": 90, "for": "1m"}
    assert cpu.trigger.namespaces == ("prod",)
    assert (cpu.safety.cooldown, cpu.safety.dedup_window) == (300.0, 60.0)
    assert cpu.safety.max_actions is not None
    assert cpu.safety.max_actions.seconds == 600
    assert cpu.safety.dry_run
    assert cpu.safety.max_scale_percent == 100
    assert cpu.origin.endswith("rules.yaml:2")
    assert [a.spec.kind for a in ruleset.actions["scale-on-cpu"]] == ["scale"]
    # A schedule's events are named after their rule.
    assert ruleset.rule("nightly").trigger.names == ("nightly",)
    assert ruleset.limits.namespace == "ops"
    assert ruleset.limits.kill_switch == "stop"
    assert ruleset.limits.max_actions is not None
    assert ruleset.limits.max_actions.count == 20


def test_a_directory_gives_its_yaml_files_in_order(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("limits:", "#"), "b.yaml")
    write(tmp_path, GOOD.replace("scale-on-cpu", "a").replace("nightly", "n2"), "a.yml")
    write(tmp_path, "not: rules", "notes.txt")
    names = [r.name for r in load_rules([tmp_path]).rules]
    assert names == ["a", "n2", "scale-on-cpu", "nightly"]


def test_every_kind_of_mistake_is_one_line_with_file_line_rule_and_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
rules:
  - name: bad
    trigerr: 1
    trigger:
      source: resourse
      selector: "app in (a"
      condition: "object.spec.replicas >"
    conditions:
      - 3
    actions:
      - scael: {}
      - scale: {factor: -1}
      - restart: [1]
    safety: {cooldown: 5 minutes, maxActions: {count: 1}, dryRun: "yes", maxScalePercent: -5}
  - name: web
    trigger: {source: resource, kind: Deploymnet, names: [modified, changed]}
    actions: [restart]
  - name: web
    trigger: {source: event, names: [BackOff], params: {type: Sometimes}}
    actions: [restart]
  - trigger: {source: http}
    actions: []
limits: {maxActions: {count: 20, per: 0}, nmespace: x}
""",
    )
    expected = [
        "F:3: rule bad: trigerr: unknown key (did you mean 'trigger'?)",
        "F:5: rule bad: trigger.source: unknown source 'resourse' (did you mean 'resource'?)",
        "F:6: rule bad: trigger.selector: invalid label selector 'app in (a'",
        "F:7: rule bad: trigger.condition: invalid CEL: ",
        "F:9: rule bad: conditions[0]: must be a string, not a number",
        "F:11: rule bad: actions[0]: unknown action 'scael' (did you mean 'scale'?)",
        "F:12: rule bad: actions[1].scale.factor: ",
        "F:13: rule bad: actions[2].restart: must be a mapping of settings, not a list",
        "F:14: rule bad: safety.cooldown: must be a duration like 30s, 5m or 1h, not '5 minutes'",
        "F:14: rule bad: safety.maxActions.per: required",
        "F:14: rule bad: safety.dryRun: must be true or false, not a string",
        "F:14: rule bad: safety.maxScalePercent: must be a number greater than 0",
        "F:16: rule web: trigger.names: unknown event 'changed'",
        "F:16: rule web: trigger.kind: unknown kind 'Deploymnet' (did you mean 'Deployment'?)",
        "F:18: rule web: name: defined twice (first at F:15)",
        "F:19: rule web: trigger.params.type: ",
        "F:21: rule #4: name: required",
        "F:22: rule #4: actions: must be a non-empty list of actions",
        "F:23: limits: maxActions.per: must be longer than zero",
        "F:23: limits: nmespace: unknown key (did you mean 'namespace'?)",
    ]
    assert len(found) == len(expected), "\n".join(found)
    for line, start in zip(sorted(found), sorted(expected), strict=True):
        assert line.startswith(start), (line, start)
    assert all("\n" not in line for line in found)


def test_yaml_that_is_not_valid_names_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, "rules:\n  - name: a\n    trigger: [\n")[0].startswith(
        "F:4: not valid YAML"
    )
    assert problems(tmp_path, "rules: {a: 1}\n") == ["F:1: rules: must be a list of rules"]
    assert problems(tmp_path, "- a\n")[0].startswith("F:1: expected a mapping with `rules:`")


def test_limits_set_in_two_files_and_missing_files_are_problems(tmp_path: Path) -> None:
    first = write(tmp_path, "limits: {dryRun: true}\n", "a.yaml")
    second = write(tmp_path, "limits: {dryRun: false}\n", "b.yaml")
    with pytest.raises(RuleError) as caught:
        load_rules([first, second, tmp_path / "absent.yaml"])
    text = str(caught.value)
    assert f"{second}:1: limits: set again (first set at {first}:1)" in text
    assert f"{tmp_path / 'absent.yaml'}: cannot read" in text
