"""The two ways a CEL expression fails: when it is compiled, and when it runs."""

from __future__ import annotations

from kubeops.errors import KubeopsError


def shown(expression: str) -> str:
    """The expression as an error shows it: on one line, long ones cut."""
    text = " ".join(expression.split())
    return repr(text if len(text) <= 120 else text[:117] + "...")


class CelError(KubeopsError, ValueError):
    """An expression that does not compile: bad syntax, an unknown name, a type mismatch."""

    def __init__(self, expression: str, cause: str) -> None:
        self.expression = expression
        self.cause = cause
        super().__init__(f"CEL expression {shown(expression)}: {cause}")


class CelEvaluationError(CelError):
    """An expression that compiled but failed on these values: a missing key, null, a bad type."""
