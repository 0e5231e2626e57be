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
        import pytest

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

        @pytest.mark.asyncio  # the inner run is in pytest-asyncio's strict mode
        async def test_client_defaults_to_the_namespace(client, kube_namespace):
            made = await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
            assert made["metadata"]["namespace"] == kube_namespace

        def test_sync_client_defaults_to_the_namespace(sync_client, kube_namespace):
            made = sync_client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}})
            assert made["metadata"]["namespace"] == kube_namespace
        """
    )
    result = pytester.runpytest_subprocess("--kubeops-api-only", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*kubeops testenv? cluster testenv: ready at https://127.0.0.1:*"])
    assert "building the control plane" not in result.stdout.str()


def test_a_full_test_fails_at_once_when_the_session_cluster_is_api_only(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.full
        def test_needs_the_controllers(kube_cluster):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest("--kubeops-api-only", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs the full control plane*without --kubeops-api-only*"])
    assert "must not run" not in result.stdout.str()
    assert "cluster testenv: ready" not in result.stdout.str()
