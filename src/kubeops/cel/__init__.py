"""CEL, the expression language of Kubernetes' admission policies, for kubeops' rules.

Respond rules use it for trigger conditions, rule conditions and ``"${...}"``
values; ValidatingAdmissionPolicies (issue 14) compile against the same
environment: the CEL kube-apiserver 1.37 accepts -- optional fields, cross-type
numeric comparisons (``object.spec.replicas < 1.5``), the strings, sets, lists and
two-variable comprehension extensions, and Kubernetes' lists, regex, URL, IP,
CIDR, format, semver, quantity and authorizer libraries -- plus kubeops'
``sha256()``/``canonical()`` for content-integrity rules.  ``compile(text)``
type-checks once and caches by text; ``Program.evaluate`` gives plain Python
values, ``Program.matches`` a bool.  Built on cel-expr-python (Google's cel-cpp),
chosen by measurement: see docs/decisions.md, which also lists what it cannot do.

A missing field is an error, as on the API server, not false:
``object.spec.missing == 1`` raises :class:`CelEvaluationError` -- a rule treats
it as not matching and audits the error.  Test first with ``has(object.spec.x)``
or read optionally with ``object.?spec.x.orValue(default)``.  ``oldObject`` is
null for an added object, so ``oldObject.spec`` is an error too.  Equality does
not mix number types (``1 == 1.0`` does not compile), as in Kubernetes.
"""

from kubeops.cel.errors import CelError, CelEvaluationError
from kubeops.cel.program import VARIABLES, Prepared, Program, compile, prepare

__all__ = [
    "VARIABLES",
    "CelError",
    "CelEvaluationError",
    "Prepared",
    "Program",
    "compile",
    "prepare",
]
