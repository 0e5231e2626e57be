"""Container image references (``nginx``, ``quay.io/org/app:1.2@sha256:...``) parsed and
normalised the way the container runtime resolves them.

``ImageReference.parse("nginx")`` is ``docker.io/library/nginx``: a short name is on
Docker Hub, where one-component names live under ``library/``, and Docker Hub's
other host names mean ``docker.io``.  The grammar is that of
github.com/distribution/reference (what the kubelet and containerd accept), written
out here; :meth:`ImageReference.comes_from` answers "is this image from one of
these registries or repositories?" a path component at a time.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubeops.errors import KubeopsError

__all__ = ["DOCKER_HUB", "ImageReference", "ImageReferenceError"]

DOCKER_HUB = "docker.io"
# Names Docker Hub is also known by; all mean docker.io.
_DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_NAME_MAX = 255


class ImageReferenceError(KubeopsError, ValueError):
    """Text that is not a valid container image reference."""


@dataclass(frozen=True)
class ImageReference:
    """A container image reference: ``registry/repository[:tag][@digest]``, normalised
    (``nginx`` is ``docker.io/library/nginx``, with no tag and no digest)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, reference: str) -> ImageReference:
        """Parse ``[registry[:port]/]path[:tag][@digest]``; :class:`ImageReferenceError`
        (a ``ValueError``) says what is wrong.

        The first path component is a registry host when it contains ``.`` or ``:``,
        is ``localhost``, or has upper-case letters (repositories cannot); otherwise
        the image is on Docker Hub.
        """
        text = reference.strip()
        if not text:
            raise ImageReferenceError("empty image reference")
        name, at, digest = text.partition("@")
        if at:
            if not _DIGEST.fullmatch(digest):
                raise ImageReferenceError(
                    f"invalid digest {digest!r} in image reference {reference!r}"
                )
            algorithm, _, encoded = digest.partition(":")
            if algorithm == "sha256" and len(encoded) != 64:
                raise ImageReferenceError(f"a sha256 digest has 64 hex digits: {reference!r}")
        tag: str | None = None
        colon = name.rfind(":")
        if colon > name.rfind("/"):
            name, tag = name[:colon], name[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise ImageReferenceError(f"invalid tag {tag!r} in image reference {reference!r}")
        if len(name) > _NAME_MAX:
            raise ImageReferenceError(
                f"image name longer than {_NAME_MAX} characters: {reference!r}"
            )
        first, slash, rest = name.partition("/")
        if slash and (
            "." in first or ":" in first or first == "localhost" or first != first.lower()
        ):
            registry, path = first, rest
            if not _DOMAIN.fullmatch(registry):
                raise ImageReferenceError(
                    f"invalid registry {registry!r} in image reference {reference!r}"
                )
        else:
            registry, path = DOCKER_HUB, name
        if registry.lower() in _DOCKER_HUB_ALIASES:
            registry = DOCKER_HUB
            if "/" not in path:
                path = f"library/{path}"
        for component in path.split("/"):
            if not _PATH_COMPONENT.fullmatch(component):
                why = "must be lower case" if component.lower() != component else "is not valid"
                raise ImageReferenceError(
                    f"repository name {path!r} {why} in image reference {reference!r}"
                )
        return cls(registry, path, tag, digest if at else None)

    @property
    def name(self) -> str:
        """Registry and repository: ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    def comes_from(self, allowed: Iterable[str]) -> bool:
        """Whether the image comes from one of ``allowed``: registry hosts (``quay.io``,
        ``*.gcr.io``, ``localhost:5000``) or repository prefixes (``docker.io/library``,
        ``ghcr.io/acme/*``), compared a path component at a time so a prefix never
        matches half a name and a glob never spans a ``/``."""
        parts = self.repository.split("/")
        for entry in allowed:
            text = entry.strip().lower()
            for scheme in ("https://", "http://"):
                text = text.removeprefix(scheme)
            text = text.strip("/")
            if not text:
                continue
            host, _, prefix = text.partition("/")
            if host in _DOCKER_HUB_ALIASES:
                host = DOCKER_HUB
            # Host names are case-insensitive; the registry keeps its case, as the runtime
            # does, because only upper case marks ``UPPER/app`` as a registry at all.
            if not fnmatch.fnmatchcase(self.registry.lower(), host):
                continue
            wanted = prefix.split("/") if prefix else []
            if len(wanted) <= len(parts) and all(
                fnmatch.fnmatchcase(part, pattern)
                for part, pattern in zip(parts, wanted, strict=False)
            ):
                return True
        return False

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text
