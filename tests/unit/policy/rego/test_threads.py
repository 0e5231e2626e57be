"""A Rego policy set loaded once serves any thread (the webhook's worker pool)."""

from __future__ import annotations

import threading
from pathlib import Path

from kubeops.policy.context import StaticContext
from kubeops.policy.loader import load_policies
from kubeops.policy.model import Review
from kubeops.policy.verdict import Verdict, evaluate

DATA = Path(__file__).resolve().parents[3] / "data" / "policy" / "rego"


def test_conftest_and_gatekeeper_policies_evaluate_on_other_threads() -> None:
    policies = load_policies([DATA], builtins_by_default=False)
    engines = {p.engine for p in policies.policies}
    assert {"rego", "gatekeeper"} <= engines
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]},
    }
    review = Review.of_object(pod)
    here = evaluate(policies, review, StaticContext())
    assert here.violations, "the corpus has policies a bare latest-tagged Pod fails"
    results: list[Verdict] = []
    threads = [
        threading.Thread(target=lambda: results.append(evaluate(policies, review, StaticContext())))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for there in results:
        assert not there.ignored_errors
        assert sorted(v.message for v in there.violations) == sorted(
            v.message for v in here.violations
        )
