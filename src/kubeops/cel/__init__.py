"""CEL, the expression language of Kubernetes' admission policies, for kubeops' rules.

Respond rules use it for trigger conditions, rule conditions and ``"${...}"``
values; policies (issue 14) extend it with more of Kubernetes' CEL libraries.
``compile(text)`` type-checks once and caches by text; ``Program.evaluate`` gives
plain Python values, ``Program.matches`` a bool.  Built on cel-expr-python
(Google's cel-cpp), chosen by measurement: see docs/decisions.md.  Beyond
standard CEL: optional fields, Kubernetes' strings and quantity libraries, and
kubeops' ``sha256()``/``canonical()`` for content-integrity rules.

A missing field is an error, as on the API server, not false:
``object.spec.missing == 1`` raises :class:`CelEvaluationError` -- a rule treats
it as not matching and audits the error.  Test first with ``has(object.spec.x)``
or read optionally with ``object.?spec.x.orValue(default)``.  ``oldObject`` is
null for an added object, so ``oldObject.spec`` is an error too.  Numbers do not
mix: ``object.spec.replicas < 1.5`` needs ``double(object.spec.replicas)``.
"""

from kubeops.cel.errors import CelError, CelEvaluationError
from kubeops.cel.program import VARIABLES, Program, compile

__all__ = ["VARIABLES", "CelError", "CelEvaluationError", "Program", "compile"]
