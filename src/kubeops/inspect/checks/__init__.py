"""The check modules; importing this package registers every check in the catalogue."""

from kubeops.inspect.checks import nodes

__all__ = ["nodes"]
