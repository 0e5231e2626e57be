"""Vulnerability scanner reports (Trivy's and Grype's JSON), as the values the
built-in vulnerability gate judges.

The parsers (:func:`load_scan`) turn either format into a :class:`ScanReport`:
the scanned artifact (an image reference) and its vulnerabilities, each with
its severity and, where the scanner gives one, its highest CVSS score.  Which
scanner wrote a file is told by its shape (Trivy's ``SchemaVersion`` and
``Results``, Grype's ``matches``), so users pass reports without saying which.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeops.config.inputs import InputError, MiB, read_bounded
from kubeops.errors import KubeopsError

SCAN_LIMIT = 256 * MiB
"""The largest scanner report read (a big image's Trivy report is tens of MiB)."""

SEVERITIES = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""Severities from least to most severe (Grype's Negligible sits below Low)."""


class ScanError(KubeopsError, ValueError):
    """A scanner report that cannot be read: names the file and the cause."""


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability in one package of the scanned artifact."""

    id: str  # CVE-2024-1234, GHSA-..., as the scanner names it
    severity: str  # CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN (upper case)
    package: str
    installed: str = ""
    fixed: str = ""
    cvss: float | None = None  # the highest score the report gives, if any
    title: str = ""
    aliases: tuple[str, ...] = ()  # the same vulnerability's other IDs (Grype's related CVEs)

    @property
    def ids(self) -> tuple[str, ...]:
        """The ID and its aliases: what an allow-list entry may name."""
        return (self.id, *self.aliases)


@dataclass(frozen=True)
class ScanReport:
    """One scanner report: what was scanned, by which scanner, and what it found."""

    artifact: str  # the image reference as the scanner names it
    scanner: str  # "trivy" or "grype"
    source: str  # the report's file, for messages
    vulnerabilities: tuple[Vulnerability, ...] = ()
    references: tuple[str, ...] = ()  # the artifact's other names: repo tags and digests


def severity_rank(severity: str) -> int:
    """The place of ``severity`` in :data:`SEVERITIES` (an unknown word ranks as UNKNOWN)."""
    text = severity.strip().upper()
    return SEVERITIES.index(text) if text in SEVERITIES else 0


def load_scan(path: str | Path) -> ScanReport:
    """The report in ``path``, Trivy's or Grype's JSON, told apart by its shape.

    Raises :class:`ScanError` naming the file and what is wrong with it.
    """
    file = str(path)
    try:
        data = read_bounded(path, limit=SCAN_LIMIT, what="scan report")
    except InputError as err:
        raise ScanError(str(err)) from None
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ScanError(f"scan report {file}: not JSON ({err})") from None
    return parse_scan(document, file)


def parse_scan(document: Any, source: str) -> ScanReport:
    """A report already decoded from JSON; ``source`` names it in messages."""
    if not isinstance(document, dict):
        raise ScanError(f"scan report {source}: expected a JSON object, not {_type(document)}")
    if "matches" in document:
        return _grype(document, source)
    if "SchemaVersion" in document or "Results" in document:
        return _trivy(document, source)
    raise ScanError(
        f"scan report {source}: neither Trivy's JSON (SchemaVersion, Results) "
        "nor Grype's (matches, source)"
    )


def _type(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "null"}.get(type(value), "a scalar")


def _list(value: Any, source: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScanError(f"scan report {source}: {where} is {_type(value)}, not a list")
    return value


def _object(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScanError(f"scan report {source}: {where} is {_type(value)}, not an object")
    return value


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _highest(scores: Iterable[float | None]) -> float | None:
    found = [s for s in scores if s is not None]
    return max(found) if found else None


def _strings(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values if isinstance(v, str) and v))


# ---------------------------------------------------------------------------
# Trivy: SchemaVersion 2, Results[].Vulnerabilities[]
# ---------------------------------------------------------------------------


def _trivy(document: Mapping[str, Any], source: str) -> ScanReport:
    version = document.get("SchemaVersion")
    if version is not None and version != 2:
        raise ScanError(
            f"scan report {source}: Trivy SchemaVersion {version} is not supported "
            "(SchemaVersion 2, Trivy 0.20 and later)"
        )
    artifact = document.get("ArtifactName")
    if not isinstance(artifact, str) or not artifact:
        raise ScanError(f"scan report {source}: Trivy report without ArtifactName")
    meta = _object(document.get("Metadata"), source, "Metadata")
    references = _strings(
        [
            *_list(meta.get("RepoTags"), source, "Metadata.RepoTags"),
            *_list(meta.get("RepoDigests"), source, "Metadata.RepoDigests"),
        ]
    )
    found: list[Vulnerability] = []
    for r, raw in enumerate(_list(document.get("Results"), source, "Results")):
        result = _object(raw, source, f"Results[{r}]")
        where = f"Results[{r}].Vulnerabilities"
        for v, entry in enumerate(_list(result.get("Vulnerabilities"), source, where)):
            item = _object(entry, source, f"{where}[{v}]")
            ident = item.get("VulnerabilityID")
            if not isinstance(ident, str) or not ident:
                raise ScanError(f"scan report {source}: {where}[{v}] has no VulnerabilityID")
            cvss = _object(item.get("CVSS"), source, f"{where}[{v}].CVSS")
            scores = [
                _score(_object(entry, source, f"{where}[{v}].CVSS").get(key))
                for entry in cvss.values()
                for key in ("V3Score", "V40Score")
            ]
            found.append(
                Vulnerability(
                    id=ident,
                    severity=str(item.get("Severity") or "UNKNOWN").upper(),
                    package=str(item.get("PkgName") or ""),
                    installed=str(item.get("InstalledVersion") or ""),
                    fixed=str(item.get("FixedVersion") or ""),
                    cvss=_highest(scores),
                    title=str(item.get("Title") or ""),
                )
            )
    return ScanReport(artifact, "trivy", source, tuple(found), references)


# ---------------------------------------------------------------------------
# Grype: matches[].vulnerability, source.target.userInput
# ---------------------------------------------------------------------------


def _grype_scores(vulnerability: Mapping[str, Any], source: str, where: str) -> list[float | None]:
    scores: list[float | None] = []
    for c, raw in enumerate(_list(vulnerability.get("cvss"), source, f"{where}.cvss")):
        entry = _object(raw, source, f"{where}.cvss[{c}]")
        metrics = _object(entry.get("metrics"), source, f"{where}.cvss[{c}].metrics")
        scores.append(_score(metrics.get("baseScore")))
    return scores


def _grype(document: Mapping[str, Any], source: str) -> ScanReport:
    origin = _object(document.get("source"), source, "source")
    target = origin.get("target")
    if isinstance(target, dict):
        artifact = target.get("userInput")
        references = _strings(
            [
                *_list(target.get("tags"), source, "source.target.tags"),
                *_list(target.get("repoDigests"), source, "source.target.repoDigests"),
            ]
        )
    else:  # a directory or file scan names its target as a string
        artifact, references = target, ()
    if not isinstance(artifact, str) or not artifact:
        raise ScanError(f"scan report {source}: Grype report without source.target.userInput")
    found: list[Vulnerability] = []
    for m, raw in enumerate(_list(document.get("matches"), source, "matches")):
        where = f"matches[{m}]"
        match = _object(raw, source, where)
        vulnerability = _object(match.get("vulnerability"), source, f"{where}.vulnerability")
        ident = vulnerability.get("id")
        if not isinstance(ident, str) or not ident:
            raise ScanError(f"scan report {source}: {where}.vulnerability has no id")
        scores = _grype_scores(vulnerability, source, f"{where}.vulnerability")
        aliases: list[str] = []
        related = _list(
            match.get("relatedVulnerabilities"), source, f"{where}.relatedVulnerabilities"
        )
        for r, entry in enumerate(related):
            other = _object(entry, source, f"{where}.relatedVulnerabilities[{r}]")
            if isinstance(other.get("id"), str) and other["id"] != ident:
                aliases.append(other["id"])
            scores += _grype_scores(other, source, f"{where}.relatedVulnerabilities[{r}]")
        package = _object(match.get("artifact"), source, f"{where}.artifact")
        fix = _object(vulnerability.get("fix"), source, f"{where}.vulnerability.fix")
        fixed = ", ".join(_strings(_list(fix.get("versions"), source, f"{where}.fix.versions")))
        found.append(
            Vulnerability(
                id=ident,
                severity=str(vulnerability.get("severity") or "UNKNOWN").upper(),
                package=str(package.get("name") or ""),
                installed=str(package.get("version") or ""),
                fixed=fixed,
                cvss=_highest(scores),
                title=str(vulnerability.get("description") or "")[:200],
                aliases=_strings(aliases),
            )
        )
    return ScanReport(artifact, "grype", source, tuple(found), references)
