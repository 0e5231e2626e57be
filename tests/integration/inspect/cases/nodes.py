"""Node cases: Nodes are created with the status a kubelet would report."""

from __future__ import annotations

from typing import Any

from ..harness import Case


def node(name: str, *, conditions: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    states = {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    states.update(conditions or {})
    version = spec.pop("kubelet", "v1.37.2")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": f"Kubelet{t}{s}", "message": f"{t} is {s}"}
                for t, s in states.items()
            ],
            "nodeInfo": {
                "kubeletVersion": version,
                "kubeProxyVersion": "",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "bootID": "",
                "containerRuntimeVersion": "containerd://2.0.0",
                "kernelVersion": "6.1.0",
                "machineID": "",
                "osImage": "Debian",
                "systemUUID": "",
            },
        },
    }


CASES = [
    Case(
        "node-not-ready",
        bad=[
            node("node-not-ready-a", conditions={"Ready": "False"}),
            node("node-not-ready-b", conditions={"Ready": "Unknown"}),
        ],
        good=[node("node-not-ready-ok")],
        expect=["Node/node-not-ready-a", "Node/node-not-ready-b"],
    ),
    Case(
        "node-pressure",
        bad=[
            node("node-pressure-mem", conditions={"MemoryPressure": "True"}),
            node("node-pressure-pid", conditions={"PIDPressure": "True"}),
        ],
        good=[node("node-pressure-ok")],
        expect=["Node/node-pressure-mem", "Node/node-pressure-pid"],
    ),
    Case(
        "node-cordoned",
        bad=[node("node-cordoned-a", unschedulable=True)],
        good=[node("node-cordoned-ok")],
        expect=["Node/node-cordoned-a"],
    ),
    Case(
        "node-version-skew",
        bad=[
            node("node-version-skew-old", kubelet="v1.33.0"),
            node("node-version-skew-new", kubelet="v1.38.0"),
        ],
        good=[node("node-version-skew-ok", kubelet="v1.34.1")],
        expect=["Node/node-version-skew-old", "Node/node-version-skew-new"],
    ),
]
