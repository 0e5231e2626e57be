"""The guide's scenarios end to end: ``kubeops respond run`` as a subprocess on the
full testenv, loaded with the rule sets of ``examples/respond`` (their namespace and
endpoints pointed at the test's)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from integration.respond.daemon.harness import http, kubeconfig, spawn, write_rules

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "respond"


def example_rules(
    name: str, directory: Path, namespace: str, replace: Mapping[str, Any] | None = None
) -> Path:
    """``examples/respond/<name>/rules.yaml`` with the example's namespaces (``shop``,
    ``kubeops-system``) and any value in ``replace`` swapped; the directory written."""
    swap: dict[str, Any] = {"shop": namespace, "kubeops-system": namespace, **(replace or {})}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value in swap:
            return swap[value]
        return value

    document = yaml.safe_load((EXAMPLES / name / "rules.yaml").read_text())
    return write_rules(directory, walk(document))


__all__ = ["example_rules", "http", "kubeconfig", "spawn"]
