"""Another project's tests get a cluster and a namespace per test from the plugin."""

from __future__ import annotations

import pytest

from kubeops.testenv.assets import cache_root

# Read at import, before pytester points HOME at a temporary directory.
REAL_CACHE = cache_root()


def test_plugin_fixtures_give_a_cluster_and_a_throwaway_namespace(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytester gives the inner run its own HOME; keep it on the real build cache.
    monkeypatch.setenv("KUBEOPS_CACHE_DIR", str(REAL_CACHE))
    pytester.makepyfile(
        """
        seen = []

        def test_one(kube_cluster, kube_namespace):
            admin = kube_cluster.admin
            admin.create(f"/api/v1/namespaces/{kube_namespace}/configmaps", {"metadata": {"name": "a"}})
            pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
            admin.create(f"/api/v1/namespaces/{kube_namespace}/pods", pod)
            seen.append(kube_namespace)

        def test_two(kube_cluster, kube_namespace):
            assert kube_namespace != seen[0]
            ns = kube_cluster.admin.get(f"/api/v1/namespaces/{seen[0]}")
            assert ns["status"]["phase"] == "Terminating"  # no namespace controller in API-only mode
        """
    )
    result = pytester.runpytest_subprocess("--kubeops-api-only", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*kubeops testenv? cluster testenv: ready at https://127.0.0.1:*"])
    assert "building the control plane" not in result.stdout.str()
