"""``Object``: what kubeops calls a Kubernetes object everywhere -- the JSON dict the
API server sent (DESIGN.md, "Objects are JSON dicts"); the TypedDicts of
:mod:`kubeops.models` describe the same dicts statically."""

from typing import Any

Object = dict[str, Any]
