"""The pod template of a revision: compared as the controllers compare them, and described
as ``kubectl rollout history --revision`` prints it."""

from __future__ import annotations

from typing import Any

from kubeops.ops.rollout import Revision, describe_pod_template, format_history
from kubeops.ops.rollout.template import same_template, without_hash

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web", "pod-template-hash": "7d9c"}},
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "web", "key": "token"}},
                    },
                ],
                "resources": {"limits": {"memory": "128Mi"}},
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/web", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "conf", "configMap": {"name": "web-conf"}}],
    },
}


def test_the_hash_label_and_unset_fields_do_not_make_templates_differ() -> None:
    copy = without_hash(TEMPLATE)
    assert "pod-template-hash" not in copy["metadata"]["labels"]
    assert TEMPLATE["metadata"]["labels"]["pod-template-hash"] == "7d9c"  # a copy, not a change
    copy["spec"]["nodeSelector"] = {}
    copy["spec"]["tolerations"] = []
    assert same_template(TEMPLATE, copy)
    copy["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert not same_template(TEMPLATE, copy)


def test_a_template_is_described_as_kubectl_prints_it() -> None:
    assert describe_pod_template(TEMPLATE) == (
        "Pod Template:\n"
        "  Labels:\tapp=web\n"
        "\tpod-template-hash=7d9c\n"
        "  Containers:\n"
        "   web:\n"
        "    Image:\tnginx:1.27\n"
        "    Port:\t80/TCP (http)\n"
        "    Host Port:\t0/TCP (http)\n"
        "    Limits:\n"
        "      memory:\t128Mi\n"
        "    Readiness:\thttp-get http://:80/healthz delay=0s timeout=1s period=10s "
        "successThreshold=1 failureThreshold=3\n"
        "    Environment:\n"
        "      MODE:\tprod\n"
        "      TOKEN:\t<set to the key 'token' in secret 'web'>\tOptional: false\n"
        "    Mounts:\n"
        "      /etc/web from conf (ro)\n"
        "  Volumes:\n"
        "   conf:\n"
        "    Type:\tConfigMap (a volume populated by a ConfigMap)\n"
        "    Name:\tweb-conf\n"
        "    Optional:\tfalse\n"
        "  Node-Selectors:\t<none>\n"
        "  Tolerations:\t<none>\n"
    )


def test_history_is_a_revision_table_or_one_revisions_template() -> None:
    revisions = [
        Revision(1, None, TEMPLATE, "replicaset.apps/web-1"),
        Revision(12, "bump nginx", TEMPLATE, "replicaset.apps/web-12"),
    ]
    assert format_history("deployment.apps/web", revisions) == (
        "deployment.apps/web\nREVISION  CHANGE-CAUSE\n1         <none>\n12        bump nginx\n"
    )
    one = format_history("deployment.apps/web", revisions, 12)
    assert one == "deployment.apps/web with revision #12\n" + describe_pod_template(TEMPLATE)
    assert format_history("deployment.apps/web", revisions, 5).endswith("No revision 5 found.\n")
    assert format_history("deployment.apps/web", []).endswith("No rollout history found.\n")
