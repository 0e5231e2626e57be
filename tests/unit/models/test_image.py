"""Container image references: the grammar the runtime accepts, Docker Hub's
normalisation, and allow-lists of registries and repository prefixes."""

from __future__ import annotations

import pytest

from kubeops.errors import KubeopsError
from kubeops.models import ImageReference, ImageReferenceError

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ImageReference("docker.io", "library/nginx")),
        ("nginx:1.27", ImageReference("docker.io", "library/nginx", "1.27")),
        ("bitnami/redis:7.4", ImageReference("docker.io", "bitnami/redis", "7.4")),
        ("docker.io/nginx", ImageReference("docker.io", "library/nginx")),
        (
            "index.docker.io/library/nginx:latest",
            ImageReference("docker.io", "library/nginx", "latest"),
        ),
        (
            "quay.io/prometheus/prometheus:v3.1.0",
            ImageReference("quay.io", "prometheus/prometheus", "v3.1.0"),
        ),
        ("localhost/app", ImageReference("localhost", "app")),
        ("localhost:5000/app:2.0", ImageReference("localhost:5000", "app", "2.0")),
        # A port without a tag: the colon belongs to the host.
        (
            "registry.example.com:5000/team/app",
            ImageReference("registry.example.com:5000", "team/app"),
        ),
        (
            "registry.example.com:5000/team/app:1",
            ImageReference("registry.example.com:5000", "team/app", "1"),
        ),
        ("10.0.0.1:5000/app", ImageReference("10.0.0.1:5000", "app")),
        ("[::1]:5000/app:v1", ImageReference("[::1]:5000", "app", "v1")),
        # A first component with upper case can only be a host; it keeps its case, as in
        # distribution/reference, or "registry/app" would print back as a Docker Hub image.
        ("Registry/app", ImageReference("Registry", "app")),
        # A first component without . or : is a Docker Hub user, not a host.
        ("myregistry/app", ImageReference("docker.io", "myregistry/app")),
        (f"nginx@{DIGEST}", ImageReference("docker.io", "library/nginx", None, DIGEST)),
        (f"nginx:1.27@{DIGEST}", ImageReference("docker.io", "library/nginx", "1.27", DIGEST)),
        (
            f"ghcr.io/acme/tools/cli:v1.0.0-rc.1@{DIGEST}",
            ImageReference("ghcr.io", "acme/tools/cli", "v1.0.0-rc.1", DIGEST),
        ),
        (
            "gcr.io/my-project/a__b.c-d:TAG_1",
            ImageReference("gcr.io", "my-project/a__b.c-d", "TAG_1"),
        ),
        ("  nginx:1  ", ImageReference("docker.io", "library/nginx", "1")),
    ],
)
def test_parse_normalises_as_the_runtime_resolves(text: str, expected: ImageReference) -> None:
    assert ImageReference.parse(text) == expected


def test_renders_normalised() -> None:
    assert str(ImageReference.parse("nginx")) == "docker.io/library/nginx"
    assert str(ImageReference.parse(f"quay.io/a/b:1@{DIGEST}")) == f"quay.io/a/b:1@{DIGEST}"
    assert ImageReference.parse("redis:7").name == "docker.io/library/redis"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Nginx",  # repositories are lower case
        "docker.io/Library/nginx",
        "nginx:",  # empty tag
        "nginx:-bad",
        "nginx:" + "a" * 129,  # tags are at most 128 characters
        "nginx@sha256:abc",  # a sha256 digest has 64 hex digits
        "nginx@" + "ab" * 32,  # no algorithm
        "nginx@sha256:" + "zz" * 32,
        "-bad.example.com/app",
        "example.com/",
        "example.com//app",
        "app/",
        "a" * 256,
        "nginx:1:2",
    ],
)
def test_parse_rejects_invalid_references(text: str) -> None:
    with pytest.raises(ImageReferenceError, match=r"image|digest|tag|repository|registry"):
        ImageReference.parse(text)


@pytest.mark.parametrize(
    ("image", "allowed", "ok"),
    [
        ("registry.example.com/team/app:1", ["registry.example.com"], True),
        ("REGISTRY.example.com/team/app:1", ["registry.example.com"], True),
        ("registry.example.com.evil.io/team/app:1", ["registry.example.com"], False),
        ("nginx", ["docker.io/library"], True),
        ("docker.io/library/nginx", ["docker.io/library"], True),
        ("bitnami/redis", ["docker.io/library"], False),
        ("bitnami/redis", ["docker.io"], True),
        ("nginx", ["index.docker.io"], True),
        ("nginx", ["https://docker.io/"], True),
        ("eu.gcr.io/project/app", ["*.gcr.io"], True),
        ("gcr.io/project/app", ["*.gcr.io"], False),
        # A glob never spans a /.
        ("evil.com/x.gcr.io/app", ["*.gcr.io"], False),
        ("ghcr.io/acme/app", ["ghcr.io/acme"], True),
        ("ghcr.io/acme-evil/app", ["ghcr.io/acme"], False),
        ("ghcr.io/acme", ["ghcr.io/acme/app"], False),
        ("ghcr.io/acme/team-a/app", ["ghcr.io/acme/team-*"], True),
        ("localhost:5000/app", ["localhost:5000"], True),
        ("localhost:5001/app", ["localhost:5000"], False),
        ("quay.io/a/b", ["", "  "], False),
        ("quay.io/a/b", ["registry.example.com", "quay.io/a"], True),
    ],
)
def test_comes_from_compares_hosts_and_path_components(
    image: str, allowed: list[str], ok: bool
) -> None:
    assert ImageReference.parse(image).comes_from(allowed) is ok


def test_errors_are_value_errors_users_can_read() -> None:
    with pytest.raises(ImageReferenceError) as caught:
        ImageReference.parse("nginx:-bad")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, KubeopsError)
    assert str(caught.value) == "invalid tag '-bad' in image reference 'nginx:-bad'"
