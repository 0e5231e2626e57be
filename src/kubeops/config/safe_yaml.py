"""The one place kubeops turns YAML from users or clusters into Python objects.

What it builds is JSON data, as kubectl's YAML-to-JSON conversion gives it:
strings, numbers, booleans, null, lists and mappings with string keys.  So a
timestamp stays the string it was written as, a number or boolean used as a key
becomes its text, and what JSON cannot hold is refused with its line: Python
and ``!!binary``/``!!set``/``!!omap`` tags, ``.nan`` and ``.inf``, integers past
64 bits, lone surrogates, lists or mappings used as keys.  Nothing downstream
(the JSON encoder, a URL builder, a header) then meets a type it cannot take.

Two bounds are checked while the nodes are composed, before anything is
constructed:

- nesting deeper than :data:`MAX_DEPTH` levels is refused (instead of a
  ``RecursionError`` or a crash in the JSON encoder);
- aliases that would expand to more than :data:`ALIAS_FACTOR` times the
  document's own nodes (and more than :data:`ALIAS_ALLOWANCE` nodes) are refused,
  so a "billion laughs" document is rejected in milliseconds instead of growing
  to gigabytes when it is encoded or walked.

Errors are built from the marks and the problem, never from ``str(error)``,
which quotes the offending line (a kubeconfig line may hold a token).

With ``lines=True`` mappings and lists come back as :class:`MarkedDict` and
:class:`MarkedList` -- still a ``dict`` and a ``list`` -- that also say on which
line each key and item was written, for messages about a file's content (a rule
file's mistakes name their line).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubeops.config.inputs import InputError

MAX_DEPTH = 128
"""Deepest nesting accepted (Kubernetes objects, CRD schemas included, stay far below)."""
ALIAS_FACTOR = 10
"""Aliases may expand a document to at most this many times its own nodes..."""
ALIAS_ALLOWANCE = 10_000
"""...or to this many nodes, whichever is larger."""
INT_RANGE = (-(2**63), 2**64 - 1)
"""Integers JSON encoders and the API server take (int64, and uint64 for the encoder)."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# Tags PyYAML's safe loader knows but JSON cannot hold -> a hint for the message.
_UNSUPPORTED_TAGS = {
    "tag:yaml.org,2002:binary": " (write the base64 text as a plain string)",
    "tag:yaml.org,2002:set": "",
    "tag:yaml.org,2002:omap": "",
    "tag:yaml.org,2002:pairs": "",
}

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


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _JSONConstructor(SafeConstructor):
    """PyYAML's safe constructor building JSON data only (see the module's docstring)."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """The node's value; a value its explicit tag does not fit (``!!int x``,
        ``!!bool None``) is refused with its line instead of escaping as a Python error."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, TypeError, OverflowError, IndexError, AttributeError):
            what = _TAG_MEANS.get(node.tag, "what its tag says")
            raise _Refused(
                f"the value tagged {_shown_tag(node.tag)} is not {what}", _line(node)
            ) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping with string keys: scalar keys become their text, as kubectl makes them."""
        if not isinstance(node, MappingNode):
            raise _Refused(f"the value tagged {_shown_tag(node.tag)} is not a mapping", _line(node))
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a list or mapping is used as a mapping key", _line(key_node))
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                key = "null" if key is None else str(key_node.value)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> list[Any]:
        """A list; a value tagged ``!!seq`` that is none is refused with its line."""
        if not isinstance(node, SequenceNode):
            raise _Refused(f"the value tagged {_shown_tag(node.tag)} is not a list", _line(node))
        return super().construct_sequence(node, deep=deep)

    def construct_yaml_str(self, node: ScalarNode) -> str:
        """A string; an escaped lone surrogate (no character, no UTF-8) is refused."""
        if not isinstance(node, ScalarNode):  # `!!str {=: x}` is PyYAML's, not JSON's
            raise _Refused(f"the value tagged {_shown_tag(node.tag)} is not a string", _line(node))
        value: str = self.construct_scalar(node)
        if node.style == '"' and _SURROGATE.search(value):
            raise _Refused("a string holds a lone surrogate escape (\\uD800-\\uDFFF)", _line(node))
        return value

    def construct_yaml_int(self, node: ScalarNode) -> int:
        """An integer JSON encoders take."""
        value: int = super().construct_yaml_int(node)
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise _Refused("an integer is out of the 64-bit range", _line(node))
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:
        """A finite number: JSON has no NaN or infinity."""
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Refused(f"{node.value} is not a number JSON can hold", _line(node))
        return value

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:  # type: ignore[override]
        """The timestamp as written: kubectl keeps unquoted dates as strings."""
        return str(self.construct_scalar(node))

    def construct_unsupported(self, node: Node) -> Any:
        """Refuse a tag JSON has no counterpart for, or an unknown (e.g. Python) tag."""
        hint = _UNSUPPORTED_TAGS.get(node.tag, "")
        raise _Refused(
            f"the tag {_shown_tag(node.tag)} is not supported: the data must be JSON{hint}",
            _line(node),
        )

    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:str": construct_yaml_str,
        # A plain `=` or `<<` where a value is (`{op: =}`) is the string, as in kubectl.
        "tag:yaml.org,2002:value": construct_yaml_str,
        "tag:yaml.org,2002:merge": construct_yaml_str,
        "tag:yaml.org,2002:int": construct_yaml_int,
        "tag:yaml.org,2002:float": construct_yaml_float,
        "tag:yaml.org,2002:timestamp": construct_yaml_timestamp,
        **dict.fromkeys(_UNSUPPORTED_TAGS, construct_unsupported),
        None: construct_unsupported,  # any other tag: Python's, or one of the file's own
    }


_TAG_MEANS = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "null",
}


def _shown_tag(tag: str) -> str:
    short = tag.replace("tag:yaml.org,2002:", "!!")
    return short if len(short) <= 60 else short[:57] + "..."


class MarkedDict(dict[str, Any]):
    """A mapping from ``load(..., lines=True)``: ``line`` it starts on, and each key's line."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line ``key`` was written on (the mapping's own line when absent)."""
        lines: dict[str, int] = getattr(self, "key_lines", {})
        return lines.get(key, self.line)


class MarkedList(list[Any]):
    """A list from ``load(..., lines=True)``: ``line`` it starts on, and each item's line."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The line item ``index`` starts on (the list's own line when out of range)."""
        lines: list[int] = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line


def field_lines(value: Any, prefix: str = "") -> dict[str, int]:
    """The line of every key and item below ``value`` (loaded with ``lines=True``), by field
    path: ``{"spec": 3, "spec.resources": 4, "spec.resources[0].kind": 5, ...}``."""
    found: dict[str, int] = {}
    _index_lines(value, prefix, found)
    return found


def _index_lines(value: Any, prefix: str, into: dict[str, int]) -> None:
    if isinstance(value, MarkedDict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            into[path] = value.line_of(key)
            _index_lines(item, path, into)
    elif isinstance(value, MarkedList):
        for index, item in enumerate(value):
            path = f"{prefix}[{index}]"
            into[path] = value.line_of(index)
            _index_lines(item, path, into)


class Locator:
    """Turns a field path (``spec.resources[0].kind``) into ``file:line`` for messages.

    A path with no line of its own takes its nearest parent's; with none at all,
    ``line`` (where the document starts).
    """

    def __init__(self, file: str, line: int, lines: Mapping[str, int] | None = None) -> None:
        self.file = file
        self.line = line
        self.lines = dict(lines or {})

    def __call__(self, path: str) -> str:
        probe = path
        while probe:
            if probe in self.lines:
                return f"{self.file}:{self.lines[probe]}"
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return f"{self.file}:{self.line}"


class _MarkingConstructor(_JSONConstructor):
    """The JSON constructor building :class:`MarkedDict` and :class:`MarkedList`."""

    def construct_marked_map(self, node: MappingNode) -> Any:
        """A :class:`MarkedDict` with the line of the mapping and of each key."""
        data = MarkedDict()
        data.line = _line(node)
        yield data
        data.update(self.construct_mapping(node))
        lines: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                key = self.construct_object(key_node)
                text = key if isinstance(key, str) else ("null" if key is None else key_node.value)
                lines.setdefault(text, _line(key_node))
        data.key_lines = lines

    def construct_marked_seq(self, node: SequenceNode) -> Any:
        """A :class:`MarkedList` with the line of the list and of each item."""
        data = MarkedList()
        data.line = _line(node)
        yield data
        data.extend(self.construct_sequence(node))
        data.item_lines = [_line(item) for item in node.value]

    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **_JSONConstructor.yaml_constructors,
        "tag:yaml.org,2002:map": construct_marked_map,
        "tag:yaml.org,2002:seq": construct_marked_seq,
    }


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

    class _Parsing(_BoundedComposer, _CParser):  # type: ignore[misc]
        """The bounded composer on libyaml's parser."""

        def __init__(self, stream: str | bytes) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _Parsing(  # type: ignore[no-redef]
        _BoundedComposer, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser
    ):
        """The bounded composer on PyYAML's own parser."""

        def __init__(self, stream: str | bytes) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            Composer.__init__(self)


class _Loader(_Parsing, _JSONConstructor, yaml.resolver.Resolver):
    """Parser, bounded composer, JSON constructor and resolver: one loader."""

    def __init__(self, stream: str | bytes) -> None:
        _Parsing.__init__(self, stream)
        _JSONConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


class _MarkingLoader(_Loader, _MarkingConstructor):
    """The loader whose dicts and lists carry their lines."""


@dataclass(frozen=True)
class Document:
    """One document of a YAML stream: its value and the line it starts on (from 1)."""

    value: Any
    line: int


def load(
    data: str | bytes,
    source: str,
    *,
    error: Callable[[str], Exception] = YAMLInputError,
    lines: bool = False,
) -> Any:
    """The single document in ``data`` (None when empty); ``error(message)`` when refused.

    ``source`` names the input in messages (``kubeconfig /home/me/.kube/config``);
    ``lines`` builds :class:`MarkedDict`/:class:`MarkedList` (see the module doc).
    """
    documents = load_all(data, source, error=error, lines=lines)
    if len(documents) > 1:
        raise error(
            f"{source}, line {documents[1].line}: expected a single YAML document, found another"
        )
    return documents[0].value if documents else None


def load_all(
    data: str | bytes,
    source: str,
    *,
    error: Callable[[str], Exception] = YAMLInputError,
    lines: bool = False,
) -> list[Document]:
    """Every document in the YAML stream ``data``, with the line it starts on."""
    loader = _MarkingLoader(data) if lines else _Loader(data)
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
    except (ValueError, KeyError, TypeError, OverflowError, IndexError, AttributeError):
        # A tag that does not fit its value, met where no node is at hand.
        raise error(f"{source}: not valid YAML: a value does not fit its tag") from None
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
