"""Every action's settings are checked when the rules load: each mistake is one
message naming the field and the cause, and ``${...}`` values are accepted as
placeholders then."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.respond.action import ActionSpecError
from kubeops.respond.actions import ACTIONS, build_action
from kubeops.respond.model import ActionSpec

GOOD: list[tuple[str, dict[str, Any]]] = [
    ("scale", {"target": "owner", "factor": 2, "max": 10}),
    ("scale", {"replicas": "${payload.n}", "min": 2, "max": 10}),
    ("scale", {"by": -1, "min": 0, "max": "${payload.max}"}),
    ("restart", {}),
    ("restart", {"target": {"kind": "Deployment", "name": "web", "namespace": "prod"}}),
    ("rollback", {"toRevision": 2}),
    ("deletePod", {"gracePeriod": 0}),
    ("cordon", {"node": "${object.spec.nodeName}"}),
    ("drain", {"ignoreDaemonSets": True, "force": True, "deleteEmptyDirData": True, "timeout": "2m"}),
    ("patch", {"patch": {"spec": {"paused": True}}}),
    ("patch", {"type": "json", "patch": [{"op": "add", "path": "/a", "value": 1}]}),
    ("patch", {"type": "strategic", "patch": {"spec": {"template": {}}}}),
    ("label", {"labels": {"a": "b", "gone": None, "n": 3}}),
    ("annotate", {"annotations": {"seen": "${event.name}"}}),
    ("switchService", {"service": {"name": "db", "namespace": "prod"}, "selector": {"role": "standby"}}),
    ("isolate", {"target": "object"}),
    ("createJob", {"template": "cronjob/backup"}),
    ("createJob", {"namespace": "ops", "template": "job/once"}),
    ("createJob", {"template": {"metadata": {"name": "fix"}, "spec": {"template": {}}}}),
    ("call", {"function": "json:dumps"}),
    ("call", {"function": "handle_it"}),
    ("notify", {"webhook": {"url": "http://hooks/x", "headers": {"X-A": "1"}}, "enrich": {"events": 5, "logs": 20}}),
    ("notify", {"slack": {"url": "https://hooks.slack.com/services/T/B/x", "channel": "#ops"}, "message": "${event.name}"}),
    ("notify", {"email": {"to": ["a@example.com", "b@example.com"], "subject": "hi"}}),
    ("recordEvent", {"reason": "Scaled", "message": "m ${event.name}", "type": "Warning"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "params"), GOOD, ids=[f"{k}-{i}" for i, (k, _) in enumerate(GOOD)]
)
def test_good_settings_build(kind: str, params: dict[str, Any]) -> None:
    action = build_action(ActionSpec(kind, params))
    assert action.spec.kind == kind


def test_every_kind_of_the_contract_is_registered() -> None:
    assert set(ACTIONS) == {
        "scale", "restart", "rollback", "deletePod", "cordon", "drain", "patch", "label",
        "annotate", "switchService", "isolate", "createJob", "call", "notify", "recordEvent",
    }  # fmt: skip


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("scale", {"max": 3}, "replicas: give exactly one of replicas, by and factor"),
    ("scale", {"replicas": 1, "by": 2, "max": 3}, "replicas: give exactly one of replicas, by and factor (got replicas, by)"),
    ("scale", {"by": 1}, "max: is required"),
    ("scale", {"by": 1, "min": 3, "max": 2}, "min: must not be above max (3 > 2)"),
    ("scale", {"by": 0, "max": 2}, "by: must not be 0"),
    ("scale", {"factor": 0, "max": 2}, "factor: must be greater than 0, not 0"),
    ("scale", {"replicas": "x", "max": 2}, "replicas: must be a whole number, not 'x'"),
    ("scale", {"replicas": True, "max": 2}, "replicas: must be a whole number, not True"),
    ("scale", {"replicas": -1, "max": 2}, "replicas: must be 0 or more, not -1"),
    ("restart", {"foo": 1}, "foo: unknown setting (known: target)"),
    ("restart", {"target": "parent"}, "target: must be 'object', 'owner' or {kind, name, namespace}, not 'parent'"),
    ("restart", {"target": {"kind": "Deployment"}}, "target.name: is required"),
    ("restart", {"target": {"kind": "Deployment", "name": "w", "nmespace": "x"}}, "target.nmespace: unknown setting"),
    ("drain", {"timeout": "soon"}, "timeout: invalid duration 'soon'"),
    ("drain", {"force": "yes"}, "force: must be true or false, not 'yes'"),
    ("patch", {"type": "json", "patch": {"a": 1}}, "patch: a json patch is a list of {op, path, value?}"),
    ("patch", {"type": "xml", "patch": {"a": 1}}, "type: must be one of merge, strategic, json, not 'xml'"),
    ("patch", {}, "patch: is required"),
    ("label", {"labels": {}}, "labels: must not be empty"),
    ("label", {"labels": {"a": ["b"]}}, "labels.a: must be a string, not a list"),
    ("annotate", {"annotations": "a=b"}, "annotations: must be a mapping, not 'a=b'"),
    ("switchService", {"selector": {"a": "b"}}, "service: is required"),
    ("switchService", {"service": {"name": "db"}}, "selector: is required"),
    ("createJob", {"template": "deploy/x"}, "template: name a CronJob or Job as cronjob/NAME or job/NAME, not 'deploy/x'"),
    ("createJob", {"template": {"metadata": {"name": "x"}}}, "template: a Job manifest needs spec.template"),
    ("createJob", {"template": {"spec": {"template": {}}}}, "template.metadata.name: is required"),
    ("call", {"function": "nosuchmod_kubeops:f"}, "function: cannot import 'nosuchmod_kubeops'"),
    ("call", {"function": "json:nothing_here"}, "function: 'json' has no 'nothing_here'"),
    ("notify", {"webhook": {"url": "ftp://x"}}, "webhook.url: must be an http(s) URL, not 'ftp://x'"),
    ("notify", {}, "webhook: give exactly one of webhook, slack and email"),
    ("notify", {"email": {"to": "nobody"}}, "email.to: not an email address: 'nobody'"),
    ("notify", {"webhook": {"url": "http://x"}, "enrich": {"events": 1000}}, "enrich.events: must be at most 200, not 1000"),
    ("notify", {"slack": {"url": "http://x", "chanel": "#a"}}, "slack.chanel: unknown setting"),
    ("recordEvent", {"reason": "two words", "message": "m"}, "reason: must be one word of letters and digits"),
    ("recordEvent", {"reason": "R", "message": "m", "type": "Error"}, "type: must be one of Normal, Warning, not 'Error'"),
    ("scale", {"replicas": "${payload.", "max": 3}, "replicas: unclosed ${ in '${payload.'"),
    ("scale", {"replicas": "${payload.n +}", "max": 3}, "replicas: CEL expression 'payload.n +': column"),
    ("scale", {"replicas": "${}", "max": 3}, "replicas: empty ${} in '${}'"),
    ("bogus", {}, "bogus: unknown action (known: annotate, call,"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "params", "message"), BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)]
)
def test_bad_settings_are_one_line_naming_the_field(
    kind: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ActionSpecError) as caught:
        build_action(ActionSpec(kind, params))
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text
