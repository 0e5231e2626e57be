"""The vulnerability gate: scanner reports (Trivy's, Grype's) judged against a
severity or CVSS threshold, with allow-listed vulnerabilities that expire.

A report gates the containers whose image is the scanned artifact, compared as
the runtime resolves references (``docker.io/library/nginx:1.25`` is
``nginx:1.25``; a digest matches the report's digests).  A report whose image no
reviewed container uses still gates: :func:`unmatched_violations` reports it on
the scan itself, so a CI step that scans an image the manifests do not name yet
cannot pass unseen.

A vulnerability blocks when its severity is at or above ``severity`` or its
CVSS score is above ``cvssAbove``, unless an allow-list entry names it (its ID
or an alias) and has not expired; an expired entry no longer allows, and the
message says so.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubeops.models.image import ImageReference
from kubeops.policy.library.base import Check, Finding, pod_spec
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import Context, Review
from kubeops.policy.scan import SEVERITIES, ScanReport, Vulnerability, severity_rank

_SHOWN = 5  # blocking vulnerabilities named in one message; the rest are counted


@dataclass(frozen=True)
class Allowed:
    """An allow-list entry: a vulnerability ID, until when, and why."""

    id: str
    expires: datetime.date | None = None
    reason: str = ""


@dataclass(frozen=True)
class Gate:
    """The thresholds and the allow-list."""

    severity: str = "CRITICAL"
    cvss_above: float | None = 7.0
    allow: tuple[Allowed, ...] = ()
    ignore_unfixed: bool = False

    def describe(self) -> str:
        """``severity >= CRITICAL or CVSS > 7.0``, for messages."""
        parts = [f"severity >= {self.severity}"]
        if self.cvss_above is not None:
            parts.append(f"CVSS > {self.cvss_above:.1f}")
        return " or ".join(parts)

    def blocks(self, vulnerability: Vulnerability) -> bool:
        """Whether ``vulnerability`` is at or above the thresholds (allow-list aside)."""
        if self.ignore_unfixed and not vulnerability.fixed:
            return False
        if severity_rank(vulnerability.severity) >= severity_rank(self.severity):
            return True
        score = vulnerability.cvss
        return self.cvss_above is not None and score is not None and score > self.cvss_above

    def allowance(self, vulnerability: Vulnerability) -> Allowed | None:
        """The allow-list entry naming ``vulnerability`` (expired or not), if any."""
        ids = set(vulnerability.ids)
        return next((a for a in self.allow if a.id in ids), None)


def _names(reference: str) -> list[ImageReference]:
    try:
        return [ImageReference.parse(reference)]
    except ValueError:
        return []


def image_matches(image: str, report: ScanReport) -> bool:
    """Whether the container image ``image`` is the artifact ``report`` scanned: the same
    repository and the same digest, or (when the container gives no digest) the same
    tag, ``latest`` standing in for none."""
    wanted = _names(image)
    if not wanted:
        return False
    ref = wanted[0]
    for other in (n for r in (report.artifact, *report.references) for n in _names(r)):
        if other.name != ref.name:
            continue
        if ref.digest:
            if other.digest == ref.digest:
                return True
            continue
        if (other.tag or ("latest" if not other.digest else None)) == (ref.tag or "latest"):
            return True
    return False


def _judge(
    report: ScanReport, gate: Gate, today: datetime.date
) -> tuple[list[Vulnerability], list[str]]:
    """The report's blocking vulnerabilities, and notes on allow-list entries that
    allowed one or no longer do."""
    blocking: list[Vulnerability] = []
    notes: list[str] = []
    seen: set[str] = set()
    for vulnerability in report.vulnerabilities:
        if not gate.blocks(vulnerability):
            continue
        allowed = gate.allowance(vulnerability)
        if allowed is not None and (allowed.expires is None or allowed.expires >= today):
            continue
        blocking.append(vulnerability)
        if allowed is not None and allowed.id not in seen:
            seen.add(allowed.id)
            notes.append(
                f"the allow-list entry for {allowed.id} expired on {allowed.expires} "
                "and no longer allows it"
            )
    return blocking, notes


def _vulnerability(v: Vulnerability) -> str:
    facts = [v.severity]
    if v.cvss is not None:
        facts.append(f"CVSS {v.cvss:.1f}")
    package = f"{v.package} {v.installed}".strip()
    if package:
        facts.append(package + (f", fixed in {v.fixed}" if v.fixed else ", no fix"))
    return f"{v.id} ({'; '.join(facts)})"


def gate_message(report: ScanReport, gate: Gate, today: datetime.date) -> str | None:
    """What the gate says of ``report`` (None when it passes): how many vulnerabilities
    block, the worst few, and any expired allow-list entries."""
    blocking, notes = _judge(report, gate, today)
    if not blocking:
        return None
    worst = sorted(blocking, key=lambda v: (-severity_rank(v.severity), -(v.cvss or 0.0), v.id))
    unique = list({v.id: v for v in worst}.values())
    shown = ", ".join(_vulnerability(v) for v in unique[:_SHOWN])
    more = f" and {len(unique) - _SHOWN} more" if len(unique) > _SHOWN else ""
    text = (
        f"{len(unique)} {'vulnerability' if len(unique) == 1 else 'vulnerabilities'} at or above "
        f"the gate ({gate.describe()}) in {report.scanner} report {report.source}: {shown}{more}"
    )
    return text + "".join(f"; {n}" for n in notes)


@dataclass(frozen=True)
class VulnerabilityGate:
    """The configured gate and the reports it judges (kept on the check for
    :func:`unmatched_violations`)."""

    gate: Gate
    scans: tuple[ScanReport, ...]
    today: datetime.date | None = None

    def day(self) -> datetime.date:
        """The day allow-list expiry is judged on (today, unless fixed for tests)."""
        return self.today or datetime.datetime.now(datetime.UTC).date()

    def __call__(self, review: Review, context: Context) -> list[Finding]:
        pod = pod_spec(review.subject)
        if pod is None or not self.scans:
            return []
        today = self.day()
        findings: list[Finding] = []
        for label, path, container in pod.containers():
            image = container.get("image")
            if not isinstance(image, str):
                continue
            for report in self.scans:
                if image_matches(image, report):
                    message = gate_message(report, self.gate, today)
                    if message is not None:
                        findings.append(
                            Finding(f'{label} image "{image}": {message}', f"{path}.image")
                        )
        return findings

    def unmatched(self, images: Iterable[str]) -> list[tuple[ScanReport, str]]:
        """(report, message) of each failing report whose artifact none of ``images`` is."""
        used = list(images)
        today = self.day()
        found: list[tuple[ScanReport, str]] = []
        for report in self.scans:
            if any(image_matches(image, report) for image in used):
                continue
            message = gate_message(report, self.gate, today)
            if message is not None:
                found.append(
                    (report, f'image "{report.artifact}" (used by no reviewed manifest): {message}')
                )
        return found


def configure(settings: Reader, environment: Environment) -> Check:
    """The vulnerabilities gate: ``severity`` (block at or above; CRITICAL by default),
    ``cvssAbove`` (block a score above it; 7.0 by default, ``null`` for none),
    ``ignoreUnfixed`` and ``allow`` (entries of ``id``, ``expires`` YYYY-MM-DD,
    ``reason``)."""
    settings.only(("severity", "cvssAbove", "ignoreUnfixed", "allow"))
    severity = settings.string("severity", "CRITICAL", [s for s in SEVERITIES if s != "UNKNOWN"])
    cvss: float | None = 7.0
    if "cvssAbove" in settings.value and settings.value["cvssAbove"] is None:
        cvss = None
    else:
        cvss = settings.number("cvssAbove", 7.0, 0.0, 10.0)
    allow: list[Allowed] = []
    for entry in settings.items("allow"):
        entry.only(("id", "expires", "reason"))
        ident = entry.string("id")
        if not ident:
            entry.problem(None, "an allow-list entry needs an id (CVE-..., GHSA-...)")
            continue
        allow.append(Allowed(ident, entry.date("expires"), entry.string("reason")))
    gate = Gate(severity, cvss, tuple(allow), settings.boolean("ignoreUnfixed", False))
    return VulnerabilityGate(gate, tuple(environment.scans), environment.today)


def unmatched_findings(check: Check, images: Sequence[str]) -> list[tuple[ScanReport, str]]:
    """The failing reports of a vulnerabilities check that no image of ``images`` uses."""
    return check.unmatched(images) if isinstance(check, VulnerabilityGate) else []
