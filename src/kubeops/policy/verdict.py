"""One review through a whole policy set: the violations, the policies that could not
decide, and what that means for the request (allowed, warnings, audit records).

Engines report what their policies find; a policy that raises
:class:`~kubeops.policy.model.PolicyEvaluationError` is judged here by its failure
policy -- ``Fail`` refuses the request with the cause, ``Ignore`` lets it through
and keeps the error for the report -- so every stage treats a broken policy alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kubeops.policy.loader import PolicySet
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    Policy,
    PolicyEvaluationError,
    Review,
    Violation,
)


@dataclass(frozen=True)
class Verdict:
    """What a policy set decided about one review."""

    review: Review
    violations: tuple[Violation, ...] = ()
    ignored_errors: tuple[PolicyEvaluationError, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        """False when any violation denies."""
        return not any(v.denies for v in self.violations)

    @property
    def denials(self) -> list[Violation]:
        """The violations that refuse the request."""
        return [v for v in self.violations if v.denies]

    @property
    def warnings(self) -> list[Violation]:
        """The violations returned to the client as warnings."""
        return [v for v in self.violations if Action.WARN in v.actions]

    @property
    def audits(self) -> list[Violation]:
        """The violations recorded for the audit (Audit action)."""
        return [v for v in self.violations if Action.AUDIT in v.actions]


def evaluate(policies: PolicySet | tuple[Policy, ...], review: Review, context: Context) -> Verdict:
    """Every policy's violations on ``review``, each stamped with the review's subject
    and place; evaluation errors handled by each policy's failure policy."""
    found: list[Violation] = []
    ignored: list[PolicyEvaluationError] = []
    subject = review.label
    chosen = policies.policies if isinstance(policies, PolicySet) else policies
    for policy in chosen:
        try:
            violations = policy.evaluate(review, context)
        except PolicyEvaluationError as err:
            if policy.failure_policy == FailurePolicy.IGNORE:
                ignored.append(err)
                continue
            violations = [
                Violation(
                    policy=policy.name,
                    message=f"policy {policy.name} could not be evaluated: {err.cause}",
                    reason="InternalError",
                )
            ]
        found.extend(
            dataclasses.replace(v, subject=subject, location=review.location) for v in violations
        )
    return Verdict(review, tuple(found), tuple(ignored))
