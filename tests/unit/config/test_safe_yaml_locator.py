"""Field paths to ``file:line``: what every loader of a user's YAML names in its messages."""

from __future__ import annotations

from kubeops.config.safe_yaml import Locator, field_lines, load

TEXT = """\
spec:
  sourceCluster: a
  resources:
    - kind: Deployment
      apiGroup: apps
"""


def test_field_lines_maps_every_key_and_item_to_its_line() -> None:
    lines = field_lines(load(TEXT, "policy.yaml", lines=True))
    assert lines["spec"] == 1
    assert lines["spec.sourceCluster"] == 2
    assert lines["spec.resources[0]"] == 4
    assert lines["spec.resources[0].apiGroup"] == 5


def test_locator_falls_back_to_the_nearest_parent_then_the_document() -> None:
    where = Locator("policy.yaml", 1, field_lines(load(TEXT, "policy.yaml", lines=True)))
    assert where("spec.resources[0].kind") == "policy.yaml:4"
    assert where("spec.resources[0].names[3]") == "policy.yaml:4"
    assert where("metadata.name") == "policy.yaml:1"
    assert where("") == "policy.yaml:1"
