"""kubeops: Kubernetes operations automation for Python."""

__version__ = "0.1.0"
