"""Images: from allowed registries, pinned, never ``latest``.

Judged with the same definitions ``kubeops inspect`` uses
(:func:`~kubeops.inspect.checks.pods.image_tag_problem`,
:func:`~kubeops.inspect.checks.pods.image_registry_problem`), on references
parsed as the container runtime resolves them (``nginx`` is
``docker.io/library/nginx``).
"""

from __future__ import annotations

from kubeops.inspect.checks.pods import image_registry_problem, image_tag_problem
from kubeops.models.image import ImageReference
from kubeops.policy.library.base import Check, Finding, pod_spec
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import Context, Review


def image_problems(image: str, allowed: tuple[str, ...], require_digest: bool) -> list[str]:
    """Why ``image`` may not run: an invalid reference, not from an allowed registry,
    unpinned (``latest`` or no tag), or without a digest when one is required."""
    try:
        ref = ImageReference.parse(image)
    except ValueError as err:
        return [f"is not a valid image reference ({err})"]
    problems: list[str] = []
    if allowed:
        why = image_registry_problem(image, allowed)
        if why is not None:
            problems.append(why)
    tag = image_tag_problem(image)
    if tag is not None:
        problems.append(f"is {tag}" if tag.startswith("tagged") else "has no tag (latest)")
    elif require_digest and not ref.digest:
        problems.append("is not pinned by digest (@sha256:...)")
    return problems


def configure(settings: Reader, environment: Environment) -> Check:
    """The images check: ``allowedRegistries`` (hosts or repository prefixes, globs
    per path component; any registry when empty) and ``requireDigest``."""
    settings.only(("allowedRegistries", "requireDigest"))
    allowed = settings.strings("allowedRegistries")
    require_digest = settings.boolean("requireDigest", False)

    def check(review: Review, context: Context) -> list[Finding]:
        pod = pod_spec(review.subject)
        if pod is None:
            return []
        findings: list[Finding] = []
        for label, path, container in pod.containers():
            image = container.get("image")
            if not isinstance(image, str) or not image:
                continue  # the API server refuses it; nothing to judge
            for problem in image_problems(image, allowed, require_digest):
                findings.append(Finding(f'{label} image "{image}" {problem}', f"{path}.image"))
        return findings

    return check
