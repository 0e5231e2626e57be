"""The session cluster behaves like a real one: HTTPS, RBAC, scheduling, restarts, compaction."""

from __future__ import annotations

import base64
import ssl
import subprocess
import tempfile
import time
from typing import Any

import httpx
import orjson
import pytest
import yaml

from kubeops.testenv import Cluster, ensure_assets, eventually
from kubeops.testenv.admin import admin_ssl_context


def _client(kubeconfig: str) -> httpx.Client:
    """An HTTPS client built only from what a kubeconfig file says."""
    with open(kubeconfig) as file:
        config = yaml.safe_load(file)
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    headers = {}
    if "token" in user:
        headers["Authorization"] = f"Bearer {user['token']}"
    else:
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as pem:
            pem.write(base64.b64decode(user["client-certificate-data"]))
            pem.write(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(pem.name)
    return httpx.Client(base_url=cluster["server"], verify=context, headers=headers, timeout=30)


def test_api_server_answers_version_with_the_pinned_release(kube_cluster: Cluster) -> None:
    with _client(str(kube_cluster.kubeconfig)) as http:
        version = http.get("/version").json()
    pins = ensure_assets(["kube-apiserver"]).pins
    assert pins is not None
    assert version["gitVersion"] == pins.kubernetes
    assert kube_cluster.server.startswith("https://127.0.0.1:")


def test_namespace_is_created_over_https_with_the_admin_certificate(kube_cluster: Cluster) -> None:
    with _client(str(kube_cluster.kubeconfig)) as http:
        created = http.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "https-"}},
        )
        assert created.status_code == 201, created.text
        name = created.json()["metadata"]["name"]
        assert http.get(f"/api/v1/namespaces/{name}").json()["status"]["phase"] == "Active"
        http.delete(f"/api/v1/namespaces/{name}")


def test_plain_http_and_anonymous_requests_are_refused(kube_cluster: Cluster) -> None:
    ca = ssl.create_default_context(cafile=str(kube_cluster.pki.ca.cert_file))
    anonymous = httpx.get(f"{kube_cluster.server}/api/v1/namespaces", verify=ca)
    assert anonymous.status_code in (401, 403)
    plain = httpx.get(kube_cluster.server.replace("https", "http") + "/api/v1/namespaces")
    assert plain.status_code == 400
    assert "HTTPS" in plain.text


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


@pytest.mark.full
def test_deployment_pods_run_on_simulated_nodes(kube_cluster: Cluster, kube_namespace: str) -> None:
    admin = kube_cluster.admin
    admin.create(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments", _deployment("web", 3))

    def pods() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = admin.get(
            f"/api/v1/namespaces/{kube_namespace}/pods?labelSelector=app%3Dweb"
        )["items"]
        return items

    eventually(
        lambda: sum(p["status"].get("phase") == "Running" for p in pods()) == 3,
        timeout=60,
        message="3 Running pods",
    )
    nodes = {p["spec"]["nodeName"] for p in pods()}
    assert all(n.startswith("kwok-node-") for n in nodes)
    eventually(
        lambda: (
            admin.get(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/web")["status"].get(
                "availableReplicas"
            )
            == 3
        ),
        timeout=60,
        message="the Deployment to report 3 available replicas",
    )


def test_kubectl_of_the_same_release_works_with_the_kubeconfig(kube_cluster: Cluster) -> None:
    kubectl = ensure_assets(["kubectl"]).path("kubectl")
    out = subprocess.run(
        [
            str(kubectl),
            "--kubeconfig",
            str(kube_cluster.kubeconfig),
            "get",
            "namespaces",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "namespace/default" in out.stdout.split()


def test_restart_keeps_data_and_port(kube_cluster: Cluster, kube_namespace: str) -> None:
    admin = kube_cluster.admin
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps"
    admin.create(path, {"metadata": {"name": "survivor"}, "data": {"k": "v"}})
    server, old_pid = kube_cluster.server, kube_cluster.running()["kube-apiserver"]
    kube_cluster.restart_apiserver()
    assert kube_cluster.server == server
    assert kube_cluster.running()["kube-apiserver"] not in (None, old_pid)
    assert admin.get(f"{path}/survivor")["data"] == {"k": "v"}


def test_compaction_makes_an_old_resource_version_watch_get_410(
    kube_env: Any, kube_cluster: Cluster, kube_namespace: str
) -> None:
    admin = kube_cluster.admin
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps"
    old_rv = admin.create(path, {"metadata": {"name": "v1"}})["metadata"]["resourceVersion"]
    for i in range(3):
        admin.create(path, {"metadata": {"name": f"later-{i}"}})
    revision = kube_env.compact()
    assert revision > int(old_rv)
    # A watch from before the compaction is told its resourceVersion is gone.  Right
    # after the restart the watch cache may still be initialising (429); that is the
    # real server's behaviour, so wait it out as a client would.
    tls = admin_ssl_context(kube_cluster.pki)
    with httpx.Client(base_url=kube_cluster.server, verify=tls, timeout=10) as http:

        def watch_answer() -> Any:
            with http.stream("GET", f"{path}?watch=true&resourceVersion={old_rv}") as stream:
                assert stream.status_code != 429, "the watch cache is still initialising"
                return orjson.loads(next(stream.iter_lines()))

        first = eventually(watch_answer, interval=0.2, message="a watch answer other than 429")
        listed = http.get(f"{path}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
    assert first["type"] == "ERROR"
    assert first["object"]["code"] == 410
    assert listed.status_code == 410
    # Data is intact, and a fresh watch works.
    assert {c["metadata"]["name"] for c in admin.get(path)["items"]} >= {"v1", "later-2"}


def test_service_account_kubeconfig_is_denied_what_its_role_does_not_allow(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        namespace=kube_namespace,
    )
    with _client(str(kubeconfig)) as http:
        allowed = http.get(f"/api/v1/namespaces/{kube_namespace}/configmaps")
        create = http.post(
            f"/api/v1/namespaces/{kube_namespace}/configmaps", json={"metadata": {"name": "nope"}}
        )
        secrets = http.get(f"/api/v1/namespaces/{kube_namespace}/secrets")
        elsewhere = http.get("/api/v1/namespaces/default/configmaps")
    assert allowed.status_code == 200
    assert create.status_code == 403
    assert secrets.status_code == 403
    assert elsewhere.status_code == 403
    assert f"system:serviceaccount:{kube_namespace}:reader" in create.json()["message"]


def test_clusters_do_not_see_each_others_objects(kube_clusters: list[Cluster]) -> None:
    a, b = kube_clusters
    marker = f"only-in-a-{int(time.time() * 1000)}"
    a.admin.create("/api/v1/namespaces", {"metadata": {"name": marker}})
    assert a.admin.exists(f"/api/v1/namespaces/{marker}")
    assert not b.admin.exists(f"/api/v1/namespaces/{marker}")
    assert a.server != b.server
    assert a.pki.ca.cert_pem != b.pki.ca.cert_pem
