"""``Object``: what kubeops calls a Kubernetes object everywhere -- the JSON dict the
API server sent (docs/decisions.md, "orjson for JSON"); the TypedDicts of
:mod:`kubeops.models` describe the same dicts statically."""

from typing import Any

Object = dict[str, Any]
