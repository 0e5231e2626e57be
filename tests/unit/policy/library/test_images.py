"""The images built-in: allowed registries, pinned references, never latest."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.inspect.checks import pods
from kubeops.policy.library import images

from ._build import container, deployment, messages, pod_spec, run

DIGEST = "sha256:" + "4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("registry.example.com/shop/app:1.4.2", {}, []),
    ("nginx", {}, ["has no tag (latest)"]),
    ("nginx:latest", {}, ["is tagged latest"]),
    ("docker.io/library/nginx:latest", {}, ["is tagged latest"]),
    (f"nginx@{DIGEST}", {}, []),
    (f"nginx:latest@{DIGEST}", {}, []),
    ("nginx:1.25", {"requireDigest": True}, ["is not pinned by digest (@sha256:...)"]),
    (f"nginx:1.25@{DIGEST}", {"requireDigest": True}, []),
    (
        "nginx:1.25",
        {"allowedRegistries": ["registry.example.com"]},
        [
            "comes from docker.io/library/nginx, not from the allowed registries "
            "(registry.example.com)"
        ],
    ),
    ("registry.example.com/shop/app:2", {"allowedRegistries": ["registry.example.com/shop"]}, []),
    (
        "registry.example.com/other/app:2",
        {"allowedRegistries": ["registry.example.com/shop"]},
        [
            "comes from registry.example.com/other/app, not from the allowed registries "
            "(registry.example.com/shop)"
        ],
    ),
    ("nginx:1.25", {"allowedRegistries": ["docker.io/library"]}, []),
    ("Nginx:1.25", {}, ["is not a valid image reference"]),
]


@pytest.mark.parametrize(
    ("image", "settings", "expected"), CASES, ids=[c[0] + str(sorted(c[1])) for c in CASES]
)
def test_images(image: str, settings: dict[str, Any], expected: list[str]) -> None:
    found = messages(run("images", deployment(pod_spec(container(image=image))), settings=settings))
    assert len(found) == len(expected), found
    for message, wanted in zip(found, expected, strict=True):
        assert message.startswith(f'container "app" image "{image}" {wanted}')


def test_every_container_kind() -> None:
    spec = pod_spec(container(image="nginx"), initContainers=[container("init", image="busybox")])
    found = run("images", deployment(spec))
    assert [v.field_path for v in found] == [
        "spec.template.spec.initContainers[0].image",
        "spec.template.spec.containers[0].image",
    ]


def test_shared_with_inspect() -> None:
    assert images.image_tag_problem is pods.image_tag_problem
    assert images.image_registry_problem is pods.image_registry_problem
