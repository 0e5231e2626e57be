"""Object names are one path segment: ``.``, ``..``, ``/`` and ``%`` never reach a URL.

Quoting keeps ``/`` out, but ``.`` and ``..`` survive it and the API server cleans
them away, so ``delete configmap .. -n prod`` once addressed the namespace ``prod``
itself.  These tests run the real command against the testenv cluster and check the
namespace is still there afterwards.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from kubeops.api import BUILTIN, InvalidPathSegment, SyncClient
from kubeops.cli.main import main
from kubeops.testenv import Cluster

CONFIGMAPS = next(r for r in BUILTIN if r.plural == "configmaps")
HOSTILE = ["", ".", "..", "a/b", "..%2f", "%2e%2e", "\udcff"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_name_that_is_not_one_segment_is_refused(value: str) -> None:
    with pytest.raises(InvalidPathSegment, match="ConfigMap name"):
        CONFIGMAPS.path("default", value)


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])
def test_a_namespace_or_subresource_that_is_not_one_segment_is_refused(value: str) -> None:
    with pytest.raises(InvalidPathSegment, match="namespace"):
        CONFIGMAPS.path(value, "ok")
    with pytest.raises(InvalidPathSegment, match="subresource"):
        CONFIGMAPS.path("default", "ok", value)


def test_ordinary_names_still_make_their_paths() -> None:
    assert CONFIGMAPS.path("team-a", "app.config-1") == (
        "/api/v1/namespaces/team-a/configmaps/app.config-1"
    )
    assert CONFIGMAPS.path("team-a") == "/api/v1/namespaces/team-a/configmaps"


def run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, err.getvalue()


@pytest.mark.parametrize("verb", ["delete", "get"])
def test_delete_of_dot_dot_leaves_the_namespace_alone(
    verb: str, sync_client: SyncClient, kube_cluster: Cluster, kube_namespace: str
) -> None:
    code, err = run(
        verb, "configmap", "..", "-n", kube_namespace, "--kubeconfig", str(kube_cluster.kubeconfig)
    )
    assert code == 1
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "invalid ConfigMap name '..'" in err
    namespace = sync_client.get("namespaces", kube_namespace)
    assert namespace["status"]["phase"] == "Active"
