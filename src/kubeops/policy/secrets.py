"""Secrets that leak into manifests: private keys, cloud keys, tokens and passwords
written where anyone who can read the object (or the Git repository it came from)
can read them -- container env values, args and commands, ConfigMap data,
annotations.

Two ways of finding one: a *pattern* recognises credentials with a known shape
(a PEM private key, an AWS access key ID, a GitHub token, a password in a URL);
*entropy* catches the rest -- a random-looking value under a key that says it is
secret (``DB_PASSWORD``, ``apiKey``, ``client_secret``).  Values that merely
refer to a secret (``$(DB_PASSWORD)``, ``${TOKEN}``, a file path, a Secret's
name) are not secrets.

A :class:`Leak` says where and what kind, never the value: nothing here returns
or formats the secret itself, so no report, log or terminal can show it.
Pure functions over plain objects; no cluster, no I/O.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DetectorSettings",
    "Leak",
    "Match",
    "find_leaks",
    "scan_text",
    "secret_like_key",
    "shannon_entropy",
]


@dataclass(frozen=True)
class DetectorSettings:
    """How eager the entropy test is; patterns always apply."""

    entropy: float = 3.0  # bits per character a value under a secret-like key must reach
    min_length: int = 8  # shorter values are not judged by entropy
    ignore_keys: frozenset[str] = frozenset()  # keys (env names, data keys) never judged


@dataclass(frozen=True)
class Match:
    """A secret found in one text: its kind and the line (1-based) within the text."""

    kind: str
    line: int = 1


@dataclass(frozen=True)
class Leak:
    """A secret found in an object: where (for people and as a field path) and what kind."""

    kind: str
    where: str  # 'container "app" env DB_PASSWORD', 'data key "app.properties"'
    field_path: str  # spec.containers[0].env[2].value
    line: int = 0  # the line within a multi-line value, 0 for a one-line value

    def describe(self) -> str:
        """``AWS access key ID in container "app" env AWS_KEY`` (never the value)."""
        at = f" (line {self.line} of the value)" if self.line else ""
        return f"{self.kind} in {self.where}{at}"


# ---------------------------------------------------------------------------
# Patterns: credentials with a recognisable shape
# ---------------------------------------------------------------------------

_B64 = r"A-Za-z0-9+/"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "GCP service-account key",
        re.compile(r'"private_key"\s*:\s*"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----'),
    ),
    ("private key (PEM)", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    (
        "AWS access key ID",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b"),
    ),
    (
        "AWS secret access key",
        re.compile(rf"(?i)aws.{{0,24}}secret.{{0,24}}?[=:]\s*[\"']?[{_B64}]{{40}}(?![{_B64}])"),
    ),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    ("Azure storage account key", re.compile(rf"AccountKey=[{_B64}]{{40,}}={{0,2}}")),
    ("Azure shared access key", re.compile(rf"SharedAccessKey=[{_B64}]{{42,44}}=?")),
    ("Azure SAS token", re.compile(r"[?&;]sig=[A-Za-z0-9%+/]{40,}")),
    ("Azure client secret", re.compile(r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])")),
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b")),
    ("GitHub token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{50,255}\b")),
    ("GitLab token", re.compile(r"\bgl(?:pat|dt|rt|ptt|cbt|imt|soat)-[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    (
        "Slack webhook URL",
        re.compile(r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}"),
    ),
    ("Stripe secret key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{20,}")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    (
        "JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*")),
)

# scheme://user:password@host -- the password group is checked for placeholders.
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@[^/\s@]+")

# Text that only refers to a secret kept elsewhere, or stands in for one.
_PLACEHOLDER = re.compile(
    r"""^(?:
        \$\(.*\)|\$\{.*\}|\$[A-Za-z_][A-Za-z0-9_]*   # $(VAR) ${VAR} $VAR
      | \{\{.*\}\}|<.*>|%\(.*\)s|%s                 # templates
      | \*+|x+|X+|\.+|-+|_+|\#+                      # masks
      | (?i:redacted|changeme|change-me|placeholder|example|secret|password|none|null|nil|todo|dummy|test)
      | [A-Z0-9]+(?:_[A-Z0-9]+)+                    # UPPER_SNAKE: a variable's name
      | (?i:(?:insert|replace|your|enter|put|set)[-_ ].*)  # INSERT_TOKEN_HERE, your-api-key
    )$""",
    re.VERBOSE,
)

# ---------------------------------------------------------------------------
# Keys that say their value is secret
# ---------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SECRET_WORDS = re.compile(
    r"\b(?:pass|passwd|password|passphrase|pwd|secret|token|apikey|api key|access key"
    r"|private key|secret key|credential|credentials|auth key|auth token|signing key"
    r"|encryption key|master key|client secret|session key|bearer)s?\b"
)
# A key naming something about a secret rather than the secret itself.
_NOT_THE_SECRET = frozenset(
    {
        "name",
        "names",
        "file",
        "files",
        "path",
        "dir",
        "ref",
        "refs",
        "ttl",
        "length",
        "size",
        "enabled",
        "enable",
        "disabled",
        "type",
        "mode",
        "header",
        "policy",
        "url",
        "uri",
        "endpoint",
        "id",
        "ids",
        "version",
        "format",
        "count",
        "location",
        "store",
        "mount",
        "selector",
        "algorithm",
        "expiry",
        "expires",
        "expiration",
        "seconds",
        "minutes",
        "hours",
        "days",
        "timeout",
        "interval",
        "rotation",
        "namespace",
        "env",
        "var",
        "source",
        "provider",
        "issuer",
        "audience",
        "scope",
        "scopes",
        "field",
    }
)
_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+|-{1,2})?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*[:=]\s*["']?([^"'\s,;]+)"""
)
_K8S_NAME = re.compile(r"^[a-z0-9]+(?:[-._][a-z0-9]+)+$")


def secret_like_key(key: str) -> bool:
    """Whether ``key`` (an env name, a data key, a flag) says its value is a secret:
    ``DB_PASSWORD``, ``apiKey``, ``client.secret`` -- but not ``PASSWORD_FILE`` or
    ``tokenTTL``, which name something about one."""
    words = _CAMEL.sub(" ", key).lower().replace("-", " ").replace("_", " ").replace(".", " ")
    parts = words.split()
    if not parts or parts[-1] in _NOT_THE_SECRET:
        return False
    return bool(_SECRET_WORDS.search(" ".join(parts)))


def shannon_entropy(text: str) -> float:
    """Bits of information per character of ``text`` (0 for empty text)."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _classes(text: str) -> int:
    return sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
            any(not c.isalnum() for c in text),
        )
    )


def _random_looking(value: str, settings: DetectorSettings) -> bool:
    """A value that may be a real secret rather than a reference to one or a word."""
    text = value.strip().strip("\"'")
    if len(text) < settings.min_length or any(c.isspace() for c in text):
        return False
    if _PLACEHOLDER.match(text) or text.lower() in ("true", "false", "yes", "no"):
        return False
    if text.startswith(("/", "./", "~/", "file:", "secret:", "vault:", "arn:")) or "://" in text:
        return False  # a path, a URL or a reference to a secret store
    if _K8S_NAME.match(text) and not any(c.isdigit() for c in text):
        return False  # words-with-dashes: a Secret's or a file's name
    if _classes(text) < 2:
        return False
    return shannon_entropy(text) >= settings.entropy


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def scan_text(text: str, key: str = "", settings: DetectorSettings | None = None) -> list[Match]:
    """The secrets in ``text`` found under ``key`` (the env name or data key; "" when
    none), at most one per line: patterns first, then entropy for values under
    secret-like keys, including ``key=value`` lines inside a multi-line value."""
    chosen = settings or DetectorSettings()
    found: dict[int, str] = {}
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.setdefault(_line_of(text, match.start()), kind)
    for match in _URL_PASSWORD.finditer(text):
        if not _PLACEHOLDER.match(match.group(1)):
            found.setdefault(_line_of(text, match.start()), "password in a URL")
    whole = bool(key) and key not in chosen.ignore_keys and secret_like_key(key)
    lines = text.splitlines() or [""]
    single = sum(1 for line in lines if line.strip()) == 1
    for number, line in enumerate(lines, start=1):
        if number in found or not line.strip():
            continue
        if single and whole and _random_looking(line, chosen):
            found[number] = "secret value under a secret-like key"
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment is None or assignment.group(1) in chosen.ignore_keys:
            continue
        inner, value = assignment.groups()
        if secret_like_key(inner) and _random_looking(value, chosen):
            found[number] = "secret value under a secret-like key"
    return [Match(kind, line) for line, kind in sorted(found.items())]


# ---------------------------------------------------------------------------
# Objects: where a manifest keeps text
# ---------------------------------------------------------------------------

_SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_CONTAINER_LISTS = (
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
)
_FLAG = re.compile(r"^-{1,2}([A-Za-z][A-Za-z0-9_.\-]*)$")


def _texts(
    obj: Mapping[str, Any], pod: tuple[Mapping[str, Any], Mapping[str, Any], str] | None
) -> Iterator[tuple[str, str, str, str]]:
    """(text, key, where, field path) of every place in ``obj`` a secret may leak."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    yield from _annotations(meta, "metadata", "")
    if obj.get("kind") == "ConfigMap" and isinstance(obj.get("data"), dict):
        for key, value in obj["data"].items():
            if isinstance(value, str):
                yield value, str(key), f'data key "{key}"', f"data[{key}]"
    if pod is None:
        return
    spec, template_meta, prefix = pod
    if prefix != "spec":
        yield from _annotations(
            template_meta, prefix.removesuffix(".spec") + ".metadata", "Pod template "
        )
    for field, label in _CONTAINER_LISTS:
        for index, container in enumerate(spec.get(field) or []):
            if not isinstance(container, dict):
                continue
            name = f'{label} "{container.get("name", "")}"'
            path = f"{prefix}.{field}[{index}]"
            for e, env in enumerate(container.get("env") or []):
                if isinstance(env, dict) and isinstance(env.get("value"), str):
                    env_name = str(env.get("name", ""))
                    yield env["value"], env_name, f"{name} env {env_name}", f"{path}.env[{e}].value"
            for list_field in ("command", "args"):
                items = container.get(list_field) or []
                for a, arg in enumerate(items):
                    if not isinstance(arg, str):
                        continue
                    # ["--password", "s3cr3t"]: the flag names the next item.
                    previous = items[a - 1] if a and isinstance(items[a - 1], str) else ""
                    flag = _FLAG.match(previous)
                    yield (
                        arg,
                        flag.group(1) if flag else "",
                        f"{name} {list_field}[{a}]",
                        f"{path}.{list_field}[{a}]",
                    )


def _annotations(
    meta: Mapping[str, Any], path: str, label: str
) -> Iterator[tuple[str, str, str, str]]:
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, value in annotations.items():
        if isinstance(value, str) and key not in _SKIPPED_ANNOTATIONS:
            yield value, str(key), f'{label}annotation "{key}"', f"{path}.annotations[{key}]"


def find_leaks(
    obj: Mapping[str, Any],
    pod: tuple[Mapping[str, Any], Mapping[str, Any], str] | None = None,
    settings: DetectorSettings | None = None,
) -> list[Leak]:
    """Every secret leaked in ``obj``: its annotations, a ConfigMap's data and, given
    ``pod`` (its Pod spec, the template's metadata and the spec's field path), the
    containers' env values, commands and args.  Secrets themselves are not judged:
    that is where credentials belong."""
    if obj.get("kind") == "Secret":
        return []
    leaks: list[Leak] = []
    for text, key, where, path in _texts(obj, pod):
        multi = "\n" in text.strip()
        for match in scan_text(text, key, settings):
            leaks.append(Leak(match.kind, where, path, match.line if multi else 0))
    return leaks
