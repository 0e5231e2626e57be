"""kubeops' in-process Rego against ``opa`` itself: the corpus's conftest policies and
Gatekeeper templates, on every object of the corpus, must give the same result sets.

opa runs once per policy set with every input in one array (``with input as m``),
so the whole comparison takes a few seconds.  No cluster is needed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubeops.config import safe_yaml
from kubeops.policy import gatekeeper, rego
from kubeops.policy.context import StaticContext
from kubeops.policy.loader import read_documents
from kubeops.policy.model import Action, Review
from kubeops.testenv.assets import ensure_assets

CORPUS = Path(__file__).parents[3] / "data" / "policy" / "rego"
Row = tuple[str, str, str]  # (policy, action, message)


@pytest.fixture(scope="module")
def opa() -> Path:
    """The opa binary built beside the control plane (the Rego oracle)."""
    return ensure_assets(["opa"]).path("opa")


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    """The corpus's objects, as plain JSON values."""
    text = (CORPUS / "objects.yaml").read_text()
    return [json.loads(json.dumps(d.value)) for d in safe_yaml.load_all(text, "objects.yaml")]


def _opa_eval(opa: Path, args: list[str], query: str, inputs: list[Any]) -> list[Any]:
    """One ``opa eval`` of ``query`` over every input; the list it builds."""
    batched = f"[r | m := input[_]; r := {query} with input as m]"
    done = subprocess.run(
        [str(opa), "eval", "--format", "json", "--stdin-input", *args, batched],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    value: list[Any] = json.loads(done.stdout)["result"][0]["expressions"][0]["value"]
    assert len(value) == len(inputs), "opa left an input undefined"
    return value


def _canon(values: Any) -> list[str]:
    return sorted(json.dumps(v, sort_keys=True) for v in values)


def test_conftest_policies_agree_with_opa(opa: Path, objects: list[dict[str, Any]]) -> None:
    found = read_documents([CORPUS / "conftest"])
    policies = rego.load(found.rego)
    assert len(policies) >= 10
    checks = {p.name: (p.checks, p.has_exceptions) for p in policies}
    parts = []
    for package, (names, exceptions) in checks.items():
        rules = [*names, *(["exception"] if exceptions else [])]
        parts.append(
            f'"{package}": {{' + ", ".join(f'"{r}": data.{package}.{r}' for r in rules) + "}"
        )
    expected = _opa_eval(
        opa, ["--data", str(CORPUS / "conftest")], "{" + ", ".join(parts) + "}", objects
    )
    context = StaticContext(objects)
    agreed, disagreements, violations = 0, [], 0
    for obj, oracle in zip(objects, expected, strict=True):
        review = Review.of_object(obj)
        ours = sorted(
            (v.policy, next(iter(v.actions)).value, v.message)
            for p in policies
            for v in p.evaluate(review, context)
        )
        theirs = sorted(_conftest_rows(oracle))
        violations += len(ours)
        if ours == theirs:
            agreed += 1
        else:
            disagreements.append((review.describe(), sorted(set(ours) ^ set(theirs))))
    print(f"\nconftest: {agreed}/{len(objects)} objects agree with opa ({violations} results)")
    assert not disagreements, disagreements[:5]
    assert violations > 100  # the corpus exercises the policies


def _conftest_rows(oracle: dict[str, dict[str, Any]]) -> list[Row]:
    """conftest's reading of raw rule values (strings, or objects with msg; exceptions)."""
    rows = []
    for package, rules in oracle.items():
        excepted = {n for item in rules.get("exception", []) for n in item}
        for rule, value in rules.items():
            if rule == "exception" or not isinstance(value, list):
                continue
            failure = not rule.startswith("warn")
            if failure and rule.split("_", 1)[-1] in excepted and "_" in rule:
                continue
            action = (Action.DENY if failure else Action.WARN).value
            for item in value:
                msg = item if isinstance(item, str) else item.get("msg")
                rows.append((package, action, msg))
    return rows


def test_gatekeeper_templates_agree_with_opa(
    opa: Path, objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    found = read_documents([CORPUS / "gatekeeper"])
    policies = gatekeeper.load(found.templates, found.constraints)
    assert len(found.templates) >= 9
    assert len(policies) >= 10
    context = StaticContext(objects)
    by_template: dict[str, list[tuple[gatekeeper.ConstraintPolicy, Review, dict[str, Any]]]] = {}
    matched_objects = 0
    for policy in policies:
        for obj in objects:
            review = Review.of_object(obj)
            if policy.match.matches(review, context):
                value = gatekeeper.gatekeeper_input(review, policy.parameters)
                by_template.setdefault(policy.kind, []).append((policy, review, value))
                matched_objects += 1
    agreed, disagreements, messages = 0, [], 0
    for doc in found.templates:
        target = doc.value["spec"]["targets"][0]
        code = next((c["source"] for c in target.get("code") or []), target)
        kind = doc.value["spec"]["crd"]["spec"]["names"]["kind"]
        folder = tmp_path / kind
        folder.mkdir()
        for index, text in enumerate([code["rego"], *(code.get("libs") or [])]):
            (folder / f"{index}.rego").write_text(text)
        cases = by_template.get(kind, [])
        if not cases:
            continue
        template = cases[0][0].template
        package = template.package
        data = None
        if template.inventory is not None:  # opa reads the same data.inventory from a file
            data = {"inventory": gatekeeper.inventory(template.inventory, context)}
            (folder / "data.json").write_text(json.dumps(data))
        args = ["--data", str(folder)] + (
            [] if code.get("version") == "v1" else ["--v0-compatible"]
        )
        expected = _opa_eval(opa, args, f"data.{package}.violation", [c[2] for c in cases])
        for (policy, review, value), oracle in zip(cases, expected, strict=True):
            ours = policy.violations(value, data)
            messages += len(ours)
            shown = sorted(v.message for v in policy.evaluate(review, context))
            if _canon(ours) == _canon(oracle) and shown == sorted(o["msg"] for o in oracle):
                agreed += 1
            else:
                disagreements.append((policy.name, review.describe(), _canon(ours), _canon(oracle)))
    print(
        f"\ngatekeeper: {agreed}/{matched_objects} (constraint, object) pairs agree ({messages} violations)"
    )
    assert not disagreements, disagreements[:5]
    assert agreed == matched_objects
    assert messages > 40
