"""Kubeconfig files: which ones, parsed, and merged the way kubectl merges them.

The files come from ``KUBECONFIG`` (a list joined with ``os.pathsep``; missing
files are skipped) or ``~/.kube/config``; a file named explicitly is loaded
alone and must exist.  For every named cluster, user and context, and for
``current-context``, the first file that sets it wins, taken whole.  Relative
paths in an entry are made absolute against the directory of its file, so an
entry means the same thing whichever file it was merged from.

:func:`write_kubeconfig` is the one writer of kubeconfig files: they hold
credentials, so the file is private from its first byte and appears whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from kubeops.config import safe_yaml
from kubeops.config.errors import ConfigError
from kubeops.config.files import write_private
from kubeops.config.inputs import KUBECONFIG_LIMIT, InputError, read_bounded
from kubeops.config.schema import type_name

PathLike: TypeAlias = str | os.PathLike[str]

# section name in the file -> key of the entry's body
_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
# fields holding file paths, per section, resolved against the file's directory
_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
    "contexts": (),
}


@dataclass(frozen=True)
class KubeconfigEntry:
    """One named cluster, user or context; ``fields`` is its body with paths made absolute."""

    name: str
    fields: Mapping[str, Any] = field(repr=False)
    origin: Path


@dataclass(frozen=True)
class Kubeconfig:
    """The merged view of a list of kubeconfig files.

    ``searched`` is every file looked at, ``files`` those that existed and were
    loaded, in precedence order.
    """

    searched: tuple[Path, ...] = ()
    files: tuple[Path, ...] = ()
    clusters: Mapping[str, KubeconfigEntry] = field(default_factory=dict)
    users: Mapping[str, KubeconfigEntry] = field(default_factory=dict)
    contexts: Mapping[str, KubeconfigEntry] = field(default_factory=dict)
    current_context: str | None = None
    current_context_origin: Path | None = None

    @property
    def is_empty(self) -> bool:
        """True if no cluster, user, context or current-context was found."""
        return not (self.clusters or self.users or self.contexts or self.current_context)

    def describe_files(self) -> str:
        """The loaded files for messages, or what was searched if none was found."""
        if self.files:
            return ", ".join(str(p) for p in self.files)
        return (
            "no kubeconfig (looked for "
            + (", ".join(str(p) for p in self.searched) or "none")
            + ")"
        )

    def to_dict(self) -> dict[str, Any]:
        """The merged config as one kubeconfig document (paths absolute, secrets included)."""
        doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
        for section, body in _SECTIONS.items():
            entries: Mapping[str, KubeconfigEntry] = getattr(self, section)
            doc[section] = [{"name": e.name, body: dict(e.fields)} for e in entries.values()]
        doc["current-context"] = self.current_context or ""
        return doc


def default_paths() -> tuple[list[Path], bool]:
    """The files to merge and whether they came from ``KUBECONFIG``."""
    env = os.environ.get("KUBECONFIG", "")
    parts = [p for p in env.split(os.pathsep) if p]
    if parts:
        return [Path(os.path.expanduser(p)) for p in parts], True
    return [Path.home() / ".kube" / "config"], False


def load_kubeconfig(paths: PathLike | Sequence[PathLike] | None = None) -> Kubeconfig:
    """Load and merge kubeconfig files.

    ``None`` means ``KUBECONFIG`` or ``~/.kube/config``; missing files are then
    skipped, and finding none gives an empty :class:`Kubeconfig`.  One path is
    an explicit file: it is loaded alone and must exist.  A sequence is merged
    in order, skipping missing files, like ``KUBECONFIG``.
    """
    if paths is None:
        candidates, _ = default_paths()
        required = False
    elif isinstance(paths, str | os.PathLike):
        candidates = [Path(os.path.expanduser(os.fspath(paths)))]
        required = True
    else:
        candidates = [Path(os.path.expanduser(os.fspath(p))) for p in paths]
        required = False
    unique: list[Path] = []
    for candidate in candidates:
        path = candidate.absolute()
        if path not in unique:
            unique.append(path)

    loaded: list[Path] = []
    sections: dict[str, dict[str, KubeconfigEntry]] = {s: {} for s in _SECTIONS}
    current: str | None = None
    current_origin: Path | None = None
    for path in unique:
        document = _read(path, required=required)
        if document is None:
            continue
        loaded.append(path)
        for section, entries in _entries(document, path).items():
            for name, entry in entries.items():
                sections[section].setdefault(name, entry)
        file_current = document.get("current-context")
        if file_current is not None and not isinstance(file_current, str):
            raise ConfigError(
                f"{path}: current-context must be a string, not {type_name(file_current)}"
            )
        if file_current and current is None:
            current, current_origin = file_current, path
    return Kubeconfig(
        searched=tuple(unique),
        files=tuple(loaded),
        clusters=sections["clusters"],
        users=sections["users"],
        contexts=sections["contexts"],
        current_context=current,
        current_context_origin=current_origin,
    )


def parse_kubeconfig(text: str | bytes, origin: str) -> Kubeconfig:
    """A kubeconfig held in memory (a Secret's value, say), parsed as a file would be.

    Messages name ``origin``.  Relative file paths in it resolve against the
    current directory, since it has no file of its own: a kubeconfig kept in a
    Secret should inline its certificates and token.
    """
    document = safe_yaml.load(text, f"kubeconfig {origin}", error=ConfigError)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"kubeconfig {origin}: the top level must be a mapping, not {type_name(document)}"
        )
    where = Path(origin)
    sections = _entries(document, where, base=Path.cwd())
    current = document.get("current-context")
    if current is not None and not isinstance(current, str):
        raise ConfigError(
            f"kubeconfig {origin}: current-context must be a string, not {type_name(current)}"
        )
    return Kubeconfig(
        searched=(where,),
        files=(where,),
        clusters=sections["clusters"],
        users=sections["users"],
        contexts=sections["contexts"],
        current_context=current or None,
        current_context_origin=where if current else None,
    )


def _read(path: Path, *, required: bool) -> dict[str, Any] | None:
    """The parsed top level of ``path``; None if it does not exist and is not required."""
    try:
        text = read_bounded(path, limit=KUBECONFIG_LIMIT, what="kubeconfig")
    except InputError as exc:
        if exc.missing:
            if required:
                raise ConfigError(f"kubeconfig {path} does not exist") from None
            return None
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.cause}") from None
    document = safe_yaml.load(text, f"kubeconfig {path}", error=ConfigError)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"kubeconfig {path}: the top level must be a mapping, not {type_name(document)}"
        )
    return document


def _entries(
    document: Mapping[str, Any], path: Path, base: Path | None = None
) -> dict[str, dict[str, KubeconfigEntry]]:
    result: dict[str, dict[str, KubeconfigEntry]] = {}
    for section, body_key in _SECTIONS.items():
        items = document.get(section)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ConfigError(
                f"kubeconfig {path}: {section} must be a list, not {type_name(items)}"
            )
        entries: dict[str, KubeconfigEntry] = {}
        for index, item in enumerate(items):
            where = f"kubeconfig {path}: {section}[{index}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{where} must be a mapping, not {type_name(item)}")
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                raise ConfigError(f"{where}: name must be a string, not {type_name(name)}")
            if not name:
                raise ConfigError(f"{where} has no name")
            if name in entries:
                raise ConfigError(f"kubeconfig {path}: {body_key} {name!r} is defined twice")
            body = item.get(body_key)
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ConfigError(
                    f"{where} ({name!r}): {body_key} must be a mapping, not {type_name(body)}"
                )
            entries[name] = KubeconfigEntry(
                name, _absolute_paths(section, body, base or path.parent), path
            )
        result[section] = entries
    return result


def _absolute_paths(section: str, body: dict[str, Any], base: Path) -> dict[str, Any]:
    body = dict(body)
    for key in _PATH_FIELDS[section]:
        value = body.get(key)
        if isinstance(value, str) and value:
            body[key] = _resolve(value, base)
    exec_section = body.get("exec")
    if section == "users" and isinstance(exec_section, dict):
        command = exec_section.get("command")
        # A bare name is looked up on PATH; only a command with a directory is a path.
        if isinstance(command, str) and (os.sep in command or "/" in command):
            body["exec"] = {**exec_section, "command": _resolve(command, base)}
    return body


def _resolve(value: str, base: Path) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else base / path)


def write_kubeconfig(path: PathLike, document: Mapping[str, Any]) -> Path:
    """Write ``document`` to ``path`` as YAML, readable and writable by its owner only.

    A kubeconfig holds credentials, so it is written by
    :func:`kubeops.config.files.write_private`: mode 0600 from its first byte, under a
    unique temporary name (``O_EXCL | O_NOFOLLOW``), synced, then renamed over
    ``path``.  Readers see the old file or the new one, never part of one; a failure
    leaves no temporary file behind.  Missing directories are created.
    """
    content = yaml.safe_dump(dict(document), sort_keys=False)
    return write_private(path, content)
