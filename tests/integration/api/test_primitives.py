"""The api primitives everything above ``api`` uses instead of the transport: raw paths,
subresource creates with an explicit kind, per-call options, and the blocking twin's
guard against being called from its own loop -- all against the real API server."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from kubeops.api import BUILTIN, Client, ResourceType, RetryPolicy, SyncClient
from kubeops.errors import ConnectionFailed, Forbidden, NotFound, SyncClientMisuse

SELF_SUBJECT_REVIEWS = ResourceType(
    "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False
)


async def test_a_raw_get_of_version_and_metrics(client: Client) -> None:
    version = await client.request("GET", "/version")
    assert version.status == 200
    assert version.json()["major"] == "1"
    metrics = await client.request("GET", "/metrics", accept="text/plain")
    assert "apiserver_request_total" in metrics.text


async def test_a_raw_request_to_an_unknown_path_is_a_typed_error_naming_the_path(
    client: Client,
) -> None:
    with pytest.raises(NotFound, match="/no-such-path"):
        await client.request("GET", "/no-such-path")


async def test_a_subresource_is_created_by_naming_its_owner(client: Client) -> None:
    await client.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci"}})
    request: dict[str, Any] = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600},
    }
    issued = await client.create(request, kind="serviceaccounts", name="ci", subresource="token")
    assert issued["kind"] == "TokenRequest"
    assert issued["status"]["token"].count(".") == 2  # a JWT


async def test_a_subresource_create_names_the_subresource_when_it_fails(client: Client) -> None:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    with pytest.raises(NotFound, match=r'create serviceaccounts/token "ghost"'):
        await client.create(request, kind="serviceaccounts", name="ghost", subresource="token")


async def test_a_review_posts_to_a_kind_given_up_front(client: Client) -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = await client.create(review, kind=SELF_SUBJECT_REVIEWS)
    assert answer["status"]["userInfo"]["username"]


async def test_options_views_share_the_pool_and_close_nothing(client: Client) -> None:
    view = client.with_options(timeout=5, retry=RetryPolicy(max_retries=0))
    assert view.transport is client.transport
    assert view.options.timeout == 5
    assert view.options.retry is not None
    assert view.options.retry.max_retries == 0
    assert client.options.timeout is None
    await view.close()
    # the pool is still open: the parent keeps working, and so does the view
    assert (await client.get("namespaces", client.namespace))["metadata"]["name"]
    assert (await view.list("configmaps"))["kind"] == "ConfigMapList"


async def test_a_per_call_timeout_bounds_the_request(client: Client) -> None:
    # A watch-less list with a timeout far below one round trip cannot complete.
    impatient = client.with_options(timeout=1e-6, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ConnectionFailed, match="timed out"):
        await impatient.list("configmaps")
    assert (await client.list("configmaps"))["kind"] == "ConfigMapList"


async def test_discovery_found_by_a_view_serves_its_parent(client: Client) -> None:
    view = client.with_options(timeout=30)
    await view.refresh_discovery()
    assert client.mapper is view.mapper
    assert client.mapper.find("leases") is not None


async def test_qps_zero_means_the_documented_default(client: Client) -> None:
    async with Client(client.config, qps=0, burst=0) as defaulted:
        assert (defaulted.transport.limiter.qps, defaulted.transport.limiter.burst) == (50.0, 300)


def test_the_sync_client_has_every_client_method() -> None:
    public = {name for name in dir(Client) if not name.startswith("_")}
    missing = {
        name
        for name in public - set(dir(SyncClient))
        if callable(getattr(Client, name)) and name not in {"from_kubeconfig"}
    }
    assert missing == set()
    for name in public & set(dir(SyncClient)):
        if name in {"from_kubeconfig", "close", "with_options"} or not callable(
            getattr(Client, name)
        ):
            continue
        expected = list(inspect.signature(getattr(Client, name)).parameters.items())
        actual = list(inspect.signature(getattr(SyncClient, name)).parameters.items())
        assert [(p, v.kind, v.default) for p, v in actual] == [
            (p, v.kind, v.default) for p, v in expected
        ], name


def test_the_sync_client_refuses_to_be_called_from_its_own_loop(sync_client: SyncClient) -> None:
    async def call_back_into_the_facade() -> None:
        sync_client.get("namespaces", sync_client.namespace)

    with pytest.raises(SyncClientMisuse, match="its own event loop thread"):
        sync_client.run(call_back_into_the_facade())
    # and it still works from this thread
    assert sync_client.get("namespaces", sync_client.namespace)["kind"] == "Namespace"


def test_the_sync_client_streams_raw_and_subresources(sync_client: SyncClient) -> None:
    assert sync_client.request("GET", "/version").json()["major"] == "1"
    sync_client.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "b"}})
    token = sync_client.create(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        kind="serviceaccounts",
        name="b",
        subresource="token",
    )
    assert token["status"]["token"]
    view = sync_client.with_options(timeout=30)
    view.close()  # a view closes nothing
    assert sync_client.list("serviceaccounts")["kind"] == "ServiceAccountList"


async def test_forbidden_raw_paths_raise_the_typed_error(client: Client) -> None:
    # An impersonated user with no RBAC may not read /metrics.
    from dataclasses import replace

    nobody = replace(client.config, impersonate_user="nobody@example.com")
    async with Client(nobody) as restricted:
        with pytest.raises(Forbidden, match="/metrics"):
            await restricted.request("GET", "/metrics", accept="text/plain")


def test_builtin_kinds_include_the_subresource_owners() -> None:
    names = {resource.plural for resource in BUILTIN}
    assert {"pods", "serviceaccounts"} <= names


async def test_text_stream_of_a_missing_pod_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match=r'pods/log "ghost"'):
        async for _line in client.stream_text("pods", "ghost", subresource="log"):
            pass
