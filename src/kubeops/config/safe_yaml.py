"""The one place kubeops turns YAML from users or clusters into Python objects.

Safe tags only, and two bounds checked while the nodes are composed, before
anything is constructed:

- nesting deeper than :data:`MAX_DEPTH` levels is refused (instead of a
  ``RecursionError`` or a crash in the JSON encoder);
- aliases that would expand to more than :data:`ALIAS_FACTOR` times the
  document's own nodes (and more than :data:`ALIAS_ALLOWANCE` nodes) are refused,
  so a "billion laughs" document is rejected in milliseconds instead of growing
  to gigabytes when it is encoded or walked.

Errors are built from the marks and the problem, never from ``str(error)``,
which quotes the offending line (a kubeconfig line may hold a token).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, SequenceNode

from kubeops.config.inputs import InputError

MAX_DEPTH = 128
"""Deepest nesting accepted (Kubernetes objects, CRD schemas included, stay far below)."""
ALIAS_FACTOR = 10
"""Aliases may expand a document to at most this many times its own nodes..."""
ALIAS_ALLOWANCE = 10_000
"""...or to this many nodes, whichever is larger."""

# libyaml's parser when PyYAML was built with it (a manifest of 10,000 objects
# loads in about 3 s instead of 16 s); the composer stays in Python for the bounds.
_CParser: Any = getattr(importlib.import_module("yaml.cyaml"), "CParser", None)


class YAMLInputError(InputError):
    """YAML that is not valid, uses unsafe tags, nests too deep or is an alias bomb."""


class _Refused(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _BoundedComposer(Composer):
    """PyYAML's composer with a depth bound; notes whether a document used aliases."""

    _depth = 0
    _aliased = False

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        events: Any = self  # the parser half of the loader
        if events.check_event(yaml.AliasEvent):
            self._aliased = True
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = events.peek_event().start_mark
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if _CParser is not None:

    class _Loader(
        _BoundedComposer,
        _CParser,  # type: ignore[misc]
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        def __init__(self, stream: str | bytes) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            Composer.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _Loader(_BoundedComposer, yaml.SafeLoader):  # type: ignore[no-redef]
        pass


@dataclass(frozen=True)
class Document:
    """One document of a YAML stream: its value and the line it starts on (from 1)."""

    value: Any
    line: int


def load(
    data: str | bytes, source: str, *, error: Callable[[str], Exception] = YAMLInputError
) -> Any:
    """The single document in ``data`` (None when empty); ``error(message)`` when refused.

    ``source`` names the input in messages (``kubeconfig /home/me/.kube/config``).
    """
    documents = load_all(data, source, error=error)
    if len(documents) > 1:
        raise error(
            f"{source}, line {documents[1].line}: expected a single YAML document, found another"
        )
    return documents[0].value if documents else None


def load_all(
    data: str | bytes, source: str, *, error: Callable[[str], Exception] = YAMLInputError
) -> list[Document]:
    """Every document in the YAML stream ``data``, with the line it starts on."""
    loader = _Loader(data)
    documents: list[Document] = []
    try:
        while loader.check_node():
            loader._aliased = False
            node = loader.get_node()
            if node is None:  # pragma: no cover - defensive
                continue
            if loader._aliased:
                _check_expansion(node)
            documents.append(Document(loader.construct_document(node), node.start_mark.line + 1))
    except _Refused as refused:
        at = f", line {refused.line}" if refused.line else ""
        raise error(f"{source}{at}: {refused.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"{source}{at}: not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        raise error(f"{source}: not valid YAML: {exc.reason} (character {exc.position})") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply") from None
    finally:
        loader.dispose()
    return documents


def _check_expansion(root: Node) -> None:
    """Refuse a document whose aliases expand it beyond the bound, or that contains itself."""
    own: set[int] = set()
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    # Iterative post-order walk of the node graph (shared nodes are aliases).
    stack: list[tuple[Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size, depth = 1, 0
            for child in _children(node):
                size += sizes[id(child)]
                depth = max(depth, depths[id(child)])
            sizes[key] = size
            depths[key] = depth + 1
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _Refused(
                "a YAML alias refers to a node that contains it", node.start_mark.line + 1
            )
        own.add(key)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise _Refused(
                    "a YAML alias refers to a node that contains it", child.start_mark.line + 1
                )
            if id(child) not in sizes:
                stack.append((child, False))
    bound = max(ALIAS_FACTOR * len(own), ALIAS_ALLOWANCE)
    if sizes[id(root)] > bound:
        raise _Refused(f"YAML aliases expand beyond {bound} nodes (an alias bomb?)")
    if depths[id(root)] > MAX_DEPTH:
        raise _Refused(f"YAML aliases nest deeper than {MAX_DEPTH} levels")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
