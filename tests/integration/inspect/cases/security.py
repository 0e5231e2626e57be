"""Security cases: Pod templates (and a Pod) that pass every security check, and
variants that each break one of them."""

from __future__ import annotations

from typing import Any

from ..harness import Case
from .pods import APP_ACCOUNT, container, deployment, init, pod_spec, secure_pod

Object = dict[str, Any]


def with_context(name: str = "app", **security: Any) -> Object:
    """A compliant container whose securityContext has ``security`` merged in
    (a value of None removes the field)."""
    body = container(name)
    context = body["securityContext"]
    for key, value in security.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return body


def host_path(name: str, path: str) -> Object:
    return {"name": name, "hostPath": {"path": path}}


def account(name: str, **fields: Any) -> Object:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **fields}


CASES = [
    Case(
        "sec-run-as-root",
        bad=[
            deployment(
                "no-user",
                pod_spec(with_context(runAsNonRoot=None, runAsUser=None), securityContext={}),
            ),
            deployment("root-user", pod_spec(with_context(runAsUser=0, runAsNonRoot=None))),
            # The container's runAsNonRoot: false overrides the Pod's true.
            deployment(
                "override",
                pod_spec(
                    with_context(runAsNonRoot=False, runAsUser=None),
                    securityContext={"runAsNonRoot": True},
                ),
            ),
            deployment(
                "init-root",
                pod_spec(container(), initContainers=[init(with_context("setup", runAsUser=0))]),
            ),
        ],
        good=[
            deployment("compliant"),
            # Pod-level runAsNonRoot covers containers that say nothing.
            deployment(
                "pod-level",
                pod_spec(
                    with_context(runAsNonRoot=None, runAsUser=None),
                    securityContext={"runAsNonRoot": True},
                ),
            ),
            # A non-zero runAsUser is not root even without runAsNonRoot.
            deployment(
                "user-only",
                pod_spec(with_context(runAsNonRoot=None, runAsUser=1000), securityContext={}),
            ),
            deployment(
                "windows",
                pod_spec(
                    with_context(
                        runAsNonRoot=None,
                        runAsUser=None,
                        allowPrivilegeEscalation=None,
                        readOnlyRootFilesystem=None,
                        capabilities=None,
                    ),
                    securityContext={},
                    os={"name": "windows"},
                ),
            ),
        ],
        expect=[
            "Deployment/no-user",
            "Deployment/root-user",
            "Deployment/override",
            "Deployment/init-root",
        ],
    ),
    Case(
        "sec-privileged",
        bad=[
            deployment(
                "privileged",
                pod_spec(with_context(privileged=True, allowPrivilegeEscalation=None)),
            )
        ],
        good=[deployment("unprivileged", pod_spec(with_context(privileged=False)))],
        expect=["Deployment/privileged"],
    ),
    Case(
        "sec-privilege-escalation",
        bad=[
            deployment("unset", pod_spec(with_context(allowPrivilegeEscalation=None))),
            deployment("allowed", pod_spec(with_context(allowPrivilegeEscalation=True))),
        ],
        good=[deployment("denied")],
        expect=["Deployment/unset", "Deployment/allowed"],
    ),
    Case(
        "sec-host-network",
        bad=[deployment("host-network", pod_spec(hostNetwork=True))],
        good=[deployment("pod-network", pod_spec(hostNetwork=False))],
        expect=["Deployment/host-network"],
    ),
    Case(
        "sec-host-pid",
        bad=[deployment("host-pid", pod_spec(hostPID=True))],
        good=[deployment("own-pid", pod_spec(hostPID=False))],
        expect=["Deployment/host-pid"],
    ),
    Case(
        "sec-host-ipc",
        bad=[deployment("host-ipc", pod_spec(hostIPC=True))],
        good=[deployment("own-ipc", pod_spec(hostIPC=False))],
        expect=["Deployment/host-ipc"],
    ),
    Case(
        "sec-host-path",
        bad=[
            deployment("logs", pod_spec(volumes=[host_path("logs", "/var/log")])),
            deployment(
                "docker-socket",
                pod_spec(volumes=[host_path("sock", "/var/run/docker.sock")]),
            ),
        ],
        good=[
            deployment(
                "volumes",
                pod_spec(
                    volumes=[
                        {"name": "scratch", "emptyDir": {}},
                        {"name": "config", "configMap": {"name": "app"}},
                    ]
                ),
            )
        ],
        expect=["Deployment/logs", "Deployment/docker-socket"],
    ),
    Case(
        "sec-capabilities-added",
        bad=[
            deployment(
                "sys-admin",
                pod_spec(
                    with_context(
                        capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                        allowPrivilegeEscalation=None,
                    )
                ),
            ),
            deployment(
                "net-raw",
                pod_spec(with_context(capabilities={"add": ["NET_RAW", "CHOWN"]})),
            ),
        ],
        good=[
            deployment("dropped"),
            deployment(
                "empty-add", pod_spec(with_context(capabilities={"add": [], "drop": ["ALL"]}))
            ),
        ],
        expect=["Deployment/sys-admin", "Deployment/net-raw"],
    ),
    Case(
        "sec-default-serviceaccount",
        bad=[
            deployment("implicit", pod_spec(serviceAccountName=None)),
            deployment("explicit", pod_spec(serviceAccountName="default")),
            # The admission plugin names "default" on a Pod that names none.
            secure_pod("bare", {**pod_spec(), "serviceAccountName": ""}),
        ],
        good=[APP_ACCOUNT, deployment("own-account"), secure_pod("own-account")],
        expect=["Deployment/implicit", "Deployment/explicit", "Pod/bare"],
    ),
    Case(
        "sec-automount-token",
        bad=[
            account("mounting"),
            deployment(
                "unset", pod_spec(automountServiceAccountToken=None, serviceAccountName="mounting")
            ),
            # The Pod's own true wins over the account's false.
            account("quiet", automountServiceAccountToken=False),
            deployment(
                "forced", pod_spec(automountServiceAccountToken=True, serviceAccountName="quiet")
            ),
            # The default ServiceAccount (made by the harness) mounts its token.
            secure_pod(
                "default-token",
                {**pod_spec(), "automountServiceAccountToken": None, "serviceAccountName": None},
            ),
        ],
        good=[
            account("quiet", automountServiceAccountToken=False),
            deployment("pod-off"),
            deployment(
                "account-off",
                pod_spec(automountServiceAccountToken=None, serviceAccountName="quiet"),
            ),
        ],
        expect=["Deployment/unset", "Deployment/forced", "Pod/default-token"],
    ),
    Case(
        "sec-writable-root-fs",
        bad=[
            deployment("writable", pod_spec(with_context(readOnlyRootFilesystem=None))),
            deployment(
                "init-writable",
                pod_spec(
                    container(),
                    initContainers=[init(with_context("setup", readOnlyRootFilesystem=False))],
                ),
            ),
        ],
        good=[deployment("read-only")],
        expect=["Deployment/writable", "Deployment/init-writable"],
    ),
    Case(
        "sec-host-port",
        bad=[
            deployment(
                "host-port",
                pod_spec(container(ports=[{"containerPort": 8080, "hostPort": 80}])),
            )
        ],
        good=[
            deployment("container-port", pod_spec(container(ports=[{"containerPort": 8080}]))),
            # On the host network every port is a host port: sec-host-network's business.
            deployment(
                "host-network",
                pod_spec(
                    container(ports=[{"containerPort": 8080, "hostPort": 8080}]), hostNetwork=True
                ),
            ),
        ],
        expect=["Deployment/host-port"],
    ),
]
