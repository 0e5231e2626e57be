"""Policy as code: one policy, in CEL (ValidatingAdmissionPolicy) or Rego (conftest,
Gatekeeper) or from the built-in library, run the same way in CI, before apply, at
admission and in an audit of what already runs.

:func:`~kubeops.policy.loader.load_policies` reads a directory into a
:class:`~kubeops.policy.loader.PolicySet`; :func:`~kubeops.policy.verdict.evaluate`
runs it on a :class:`~kubeops.policy.model.Review`.
"""

from kubeops.policy.context import StaticContext
from kubeops.policy.loader import PolicySet, load_policies
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    Operation,
    Policy,
    PolicyEvaluationError,
    PolicyLoadError,
    Review,
    Source,
    Violation,
)
from kubeops.policy.verdict import Verdict, evaluate

__all__ = [
    "Action",
    "Context",
    "FailurePolicy",
    "Operation",
    "Policy",
    "PolicyEvaluationError",
    "PolicyLoadError",
    "PolicySet",
    "Review",
    "Source",
    "StaticContext",
    "Verdict",
    "Violation",
    "evaluate",
    "load_policies",
]
