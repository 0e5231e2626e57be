"""Vulnerability scanner reports (Trivy's and Grype's JSON), as the values the
built-in vulnerability gate judges.

The parsers (:func:`load_scan`) turn either format into a :class:`ScanReport`:
the scanned artifact (an image reference) and its vulnerabilities, each with
its severity and, where the scanner gives one, its highest CVSS score.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability in one package of the scanned artifact."""

    id: str  # CVE-2024-1234, GHSA-..., as the scanner names it
    severity: str  # CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN (upper case)
    package: str
    installed: str = ""
    fixed: str = ""
    cvss: float | None = None  # the highest score the report gives, if any
    title: str = ""


@dataclass(frozen=True)
class ScanReport:
    """One scanner report: what was scanned, by which scanner, and what it found."""

    artifact: str  # the image reference as the scanner names it
    scanner: str  # "trivy" or "grype"
    source: str  # the report's file, for messages
    vulnerabilities: tuple[Vulnerability, ...] = ()
