"""Writing ValidatingAdmissionPolicies in tests: YAML in, loaded policies out."""

from __future__ import annotations

import textwrap
from typing import Any

from kubeops.config import safe_yaml
from kubeops.policy import vap
from kubeops.policy.model import Document, Source

POLICY_HEAD = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: p
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      resources: [configmaps]
      operations: [CREATE, UPDATE, DELETE]
"""

BINDING = """\
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: b
spec:
  policyName: p
  validationActions: [Deny]
"""


def documents(text: str, file: str = "policies.yaml") -> tuple[list[Document], list[Document]]:
    """The policies and the bindings of a YAML stream, with their lines."""
    policies: list[Document] = []
    bindings: list[Document] = []
    for loaded in safe_yaml.load_all(textwrap.dedent(text), file, lines=True):
        doc = Document(loaded.value, Source(file, loaded.line))
        kind = loaded.value.get("kind")
        (policies if kind == "ValidatingAdmissionPolicy" else bindings).append(doc)
    return policies, bindings


def load(text: str) -> list[vap.CelPolicy]:
    """The policies of ``text``."""
    return vap.load(*documents(text))


def policy(spec_tail: str, binding: str = BINDING) -> vap.CelPolicy:
    """One policy on ConfigMaps with ``spec_tail`` (indented under spec) and a Deny binding."""
    (loaded,) = load(POLICY_HEAD + textwrap.indent(textwrap.dedent(spec_tail), "  ") + binding)
    return loaded


def configmap(name: str = "c", namespace: str = "shop", **data: str) -> dict[str, Any]:
    """A ConfigMap manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }
