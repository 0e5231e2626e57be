"""ConfigMaps and Secrets built from literals, files and env files, as ``kubectl create`` builds them.

The builders are pure: they read local files, check keys and TLS material, and
return the object as the dict the API server takes.  Base64 is handled here:
Secret values go out encoded, a ConfigMap keeps UTF-8 text in ``data`` and
anything else in ``binaryData``, and :func:`decoded` turns a Secret read back
from the server into bytes.  :func:`create` sends a built object, with an async
:class:`~kubeops.api.Client` (await it) or a :class:`~kubeops.api.SyncClient`.

Sources follow kubectl: ``key=value`` literals; ``[key=]path`` files, where a
directory contributes each regular file in it (not subdirectories, not
symlinks) under its own name; env files of ``KEY=VALUE`` lines, blank lines
and ``#`` comments ignored.  Unlike kubectl, an env file line without ``=`` is
an error rather than a silent read of the caller's environment.  A key given
twice, an invalid key, unreadable files and PEM that is not a matching
certificate and key raise :class:`ConfigDataError`, naming the object, the
source and the cause.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeops.api import either_client
from kubeops.config.inputs import (
    CREDENTIAL_FILE_LIMIT,
    DATA_FILE_LIMIT,
    InputError,
    read_bounded,
)
from kubeops.config.tls import key_pair_problem
from kubeops.errors import KubeopsError

if TYPE_CHECKING:
    from kubeops.api import Client, Object

__all__ = [
    "DEFAULT_DOCKER_SERVER",
    "ConfigDataError",
    "check_tls_pair",
    "config_key_problem",
    "configmap",
    "create",
    "decoded",
    "docker_config_json",
    "docker_registry_secret",
    "parse_env_file",
    "secret",
    "tls_secret",
]

# kubectl create secret docker-registry's default --docker-server.
DEFAULT_DOCKER_SERVER = "https://index.docker.io/v1/"
TLS_TYPE = "kubernetes.io/tls"
DOCKER_CONFIG_JSON_TYPE = "kubernetes.io/dockerconfigjson"

Literals = Mapping[str, str] | Iterable[str]
FileSource = str | os.PathLike[str]
PemSource = str | os.PathLike[str] | bytes

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_MAX_KEY_LENGTH = 253
_BOM = "\ufeff"


class ConfigDataError(KubeopsError):
    """A ConfigMap or Secret cannot be built from what was given; the message says why."""


@dataclass(frozen=True)
class _Entry:
    key: str
    value: bytes
    origin: str


class _Builder:
    """Collects keys for one object, refusing invalid and duplicate ones."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.entries: dict[str, _Entry] = {}

    def error(self, cause: str) -> ConfigDataError:
        return ConfigDataError(f"create {self.what}: {cause}")

    def add(self, key: str, value: bytes, origin: str) -> None:
        problem = config_key_problem(key)
        if problem:
            raise self.error(f"{origin}: {key!r} is not a valid key ({problem})")
        previous = self.entries.get(key)
        if previous is not None:
            raise self.error(
                f"key {key!r} from {origin} is already set by {previous.origin}; "
                "each key may be given once"
            )
        self.entries[key] = _Entry(key, value, origin)

    def literals(self, literals: Literals) -> None:
        if isinstance(literals, Mapping):
            for key, value in literals.items():
                self.add(str(key), str(value).encode(), f"literal {key!r}")
            return
        for literal in literals:
            key, sep, value = literal.partition("=")
            if not sep:
                raise self.error(f"literal {literal!r} is not of the form key=value")
            self.add(key, value.encode(), f"literal {key!r}")

    def files(self, sources: Iterable[FileSource]) -> None:
        for source in sources:
            key, path = _file_source(source, self)
            if os.path.isdir(path):  # False for any path that cannot be a directory
                if key is not None:
                    raise self.error(f"{_shown(path)} is a directory; a key can only name a file")
                self._directory(path)
                continue
            self.add(key or path.name, _read(path, self), f"file {path}")

    def _directory(self, path: Path) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as err:
            raise self.error(f"cannot read directory {path}: {err.strerror or err}") from None
        for entry in entries:
            # As kubectl: only regular files, symlinks and subdirectories are skipped.
            if entry.is_file(follow_symlinks=False):
                file = Path(entry.path)
                self.add(entry.name, _read(file, self), f"file {file}")

    def env_files(self, sources: Iterable[FileSource]) -> None:
        for source in sources:
            path = Path(source)
            for key, value, line in parse_env_file(_read(path, self), str(path), self.what):
                self.add(key, value.encode(), f"env file {path}, line {line}")


def config_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a ConfigMap or Secret key, or None when it can."""
    if not key:
        return "keys must not be empty"
    if len(key) > _MAX_KEY_LENGTH:
        return f"keys are at most {_MAX_KEY_LENGTH} characters"
    if not _CONFIG_KEY.fullmatch(key):
        return "use only letters, digits, '-', '_' and '.'"
    if key in (".", "..") or key.startswith(".."):
        return "keys must not be '.' or '..' or start with '..'"
    return None


def parse_env_file(data: bytes, source: str, what: str = "object") -> list[tuple[str, str, int]]:
    """The ``(key, value, line number)`` entries of an env file's contents.

    Leading whitespace is ignored, so are blank lines and ``#`` comments; the
    value is everything after the first ``=``, kept as it is.
    """
    entries = []
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        where = f"env file {source}, line {number}"
        try:
            line = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigDataError(f"create {what}: {where} is not valid UTF-8") from None
        if number == 1:
            line = line.removeprefix(_BOM)
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigDataError(
                f"create {what}: {where}: {_short(line)!r} has no '='; env files hold "
                "KEY=VALUE lines (blank lines and # comments are ignored)"
            )
        if not _ENV_NAME.fullmatch(key) or key in (".", "..") or key.startswith(".."):
            raise ConfigDataError(
                f"create {what}: {where}: {key!r} is not a valid variable name (letters, "
                "digits, '-', '_' and '.', not starting with a digit)"
            )
        entries.append((key, value, number))
    return entries


def configmap(
    name: str,
    *,
    namespace: str | None = None,
    literals: Literals = (),
    files: Iterable[FileSource] = (),
    env_files: Iterable[FileSource] = (),
) -> Object:
    """A ConfigMap: text values in ``data``, file contents that are not UTF-8 in ``binaryData``."""
    builder = _Builder(f'configmap "{name}"')
    _collect(builder, literals, files, env_files)
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, entry in sorted(builder.entries.items()):
        try:
            data[key] = entry.value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = _b64(entry.value)
    obj = _object("ConfigMap", name, namespace)
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def secret(
    name: str,
    *,
    namespace: str | None = None,
    type: str | None = None,
    literals: Literals = (),
    files: Iterable[FileSource] = (),
    env_files: Iterable[FileSource] = (),
) -> Object:
    """A generic Secret, every value base64-encoded; ``type`` unset means the server's Opaque."""
    builder = _Builder(f'secret "{name}"')
    _collect(builder, literals, files, env_files)
    return _secret(name, namespace, type, {k: e.value for k, e in builder.entries.items()})


def tls_secret(
    name: str, cert: PemSource, key: PemSource, *, namespace: str | None = None
) -> Object:
    """A ``kubernetes.io/tls`` Secret; the certificate and key must be PEM and belong together.

    ``cert`` and ``key`` are file paths or the PEM bytes themselves; they are stored as given.
    """
    what = f'secret tls "{name}"'
    cert_pem, cert_origin = _pem(cert, "certificate", what)
    key_pem, key_origin = _pem(key, "key", what)
    check_tls_pair(cert_pem, key_pem, cert_origin=cert_origin, key_origin=key_origin, what=what)
    return _secret(name, namespace, TLS_TYPE, {"tls.crt": cert_pem, "tls.key": key_pem})


def check_tls_pair(
    cert_pem: bytes,
    key_pem: bytes,
    *,
    cert_origin: str = "the certificate",
    key_origin: str = "the key",
    what: str = "secret tls",
) -> None:
    """Raise :class:`ConfigDataError` unless ``cert_pem`` starts with a PEM certificate and
    ``key_pem`` is the unencrypted PEM private key for it (checked by
    :func:`kubeops.config.tls.key_pair_problem`)."""
    problem = key_pair_problem(cert_pem, key_pem)
    if problem is None:
        return
    if problem.part == "pair":
        cause = f"{key_origin} does not match {cert_origin} (certificate subject {problem.subject})"
    elif problem.encrypted:
        cause = f"{key_origin} is encrypted; a TLS Secret needs an unencrypted key"
    elif problem.swapped:
        cause = f"{cert_origin} {problem.detail} (are --cert and --key swapped?)"
    else:
        origin = cert_origin if problem.part == "certificate" else key_origin
        cause = f"{origin} {problem.detail}"
    raise ConfigDataError(f"create {what}: {cause}")


def docker_registry_secret(
    name: str,
    *,
    username: str,
    password: str,
    server: str = DEFAULT_DOCKER_SERVER,
    email: str | None = None,
    namespace: str | None = None,
) -> Object:
    """A ``kubernetes.io/dockerconfigjson`` Secret for one registry, as kubectl writes it."""
    what = f'secret docker-registry "{name}"'
    missing = [f for f, v in (("username", username), ("password", password)) if not v]
    if missing:
        raise ConfigDataError(f"create {what}: a {' and a '.join(missing)} are required")
    if not server:
        raise ConfigDataError(f"create {what}: the registry server must not be empty")
    config = docker_config_json(server, username, password, email)
    return _secret(name, namespace, DOCKER_CONFIG_JSON_TYPE, {".dockerconfigjson": config})


def docker_config_json(
    server: str, username: str, password: str, email: str | None = None
) -> bytes:
    """The ``.dockerconfigjson`` document, byte for byte as kubectl encodes it."""
    entry = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = _b64(f"{username}:{password}".encode())
    return _go_json({"auths": {server: entry}}).encode()


def decoded(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's values as bytes (``data`` decoded, ``stringData`` encoded), or a
    ConfigMap's (``data`` and ``binaryData``)."""
    values: dict[str, bytes] = {}
    metadata = obj.get("metadata")
    name = metadata.get("name", "") if isinstance(metadata, Mapping) else ""
    what = f"read {str(obj.get('kind', 'object')).lower()} {name!r}"
    binary_field = "data" if obj.get("kind") == "Secret" else "binaryData"
    for key, value in _field(obj, binary_field, what).items():
        try:
            values[key] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigDataError(f"{what}: {binary_field}[{key!r}] is not valid base64") from None
    text_field = "stringData" if obj.get("kind") == "Secret" else "data"
    for key, value in _field(obj, text_field, what).items():
        values[key] = str(value).encode("utf-8", "replace")
    return values


def _field(obj: Mapping[str, Any], name: str, what: str) -> Mapping[str, Any]:
    """The mapping at ``obj[name]`` ({} when absent); cluster data of another shape is refused."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigDataError(f"{what}: {name} is {type(value).__name__}, not a mapping")
    return value


@either_client
async def create(
    client: Client,
    obj: Mapping[str, Any],
    *,
    namespace: str | None = None,
    dry_run: bool = False,
    field_manager: str | None = None,
) -> Object:
    """Create a built object; the server's copy is returned.  An existing one is not replaced
    (:class:`~kubeops.errors.AlreadyExists`), as with kubectl create."""
    return await client.create(obj, namespace, dry_run=dry_run, field_manager=field_manager)


# -- plumbing -------------------------------------------------------------------------------


def _collect(
    builder: _Builder,
    literals: Literals,
    files: Iterable[FileSource],
    env_files: Iterable[FileSource],
) -> None:
    if isinstance(literals, str):
        raise builder.error("literals must be a mapping or a list of key=value strings, not a str")
    builder.literals(literals)
    builder.files(files)
    builder.env_files(env_files)


def _object(kind: str, name: str, namespace: str | None) -> Object:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata}


def _secret(
    name: str, namespace: str | None, type: str | None, values: Mapping[str, bytes]
) -> Object:
    obj = _object("Secret", name, namespace)
    if values:
        obj["data"] = {key: _b64(values[key]) for key in sorted(values)}
    if type:
        obj["type"] = type
    return obj


def _file_source(source: FileSource, builder: _Builder) -> tuple[str | None, Path]:
    """``[key=]path`` as kubectl parses it; a path object is taken as a path."""
    if not isinstance(source, str):
        return None, Path(source)
    separators = source.count("=")
    if separators == 0:
        return None, Path(source)
    if separators > 1:
        raise builder.error(f"file source {source!r}: key names and file paths cannot contain '='")
    key, _, path = source.partition("=")
    if not key:
        raise builder.error(f"file source {source!r}: the key name before '=' is missing")
    if not path:
        raise builder.error(f"file source {source!r}: the file path after '=' is missing")
    return key, Path(path)


def _read(path: Path, builder: _Builder) -> bytes:
    try:
        return read_bounded(path, limit=DATA_FILE_LIMIT, what="file")
    except InputError as err:
        raise builder.error(f"cannot read {_shown(path)}: {err.cause}") from None


def _shown(path: Path) -> str:
    """A path for a one-line message: quoted when it holds a line break or control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _pem(source: PemSource, role: str, what: str) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, f"the {role}"
    path = Path(source)
    try:
        return read_bounded(path, limit=CREDENTIAL_FILE_LIMIT, what=role), f"{role} file {path}"
    except InputError as err:
        raise ConfigDataError(
            f"create {what}: cannot read {role} file {path}: {err.cause}"
        ) from None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _go_json(value: Any) -> str:
    """Compact JSON escaped the way Go's encoding/json escapes it (HTML-safe)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text
