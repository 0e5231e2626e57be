"""Structure-aware generators: hostile strings, YAML trees rendered with anchors,
aliases, odd tags and deep nesting, and text mutations of valid-looking documents.

Most generated inputs are *almost* right -- a valid shape with one thing wrong --
since those reach deepest into a parser; the rest are hostile outright.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

# Strings that have broken parsers before: control and format characters, escapes,
# numbers past every limit, YAML and URL syntax, paths and tags.
HOSTILE_ATOMS = [
    "",
    " ",
    "\x00",
    "\t",
    "\r\n",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\x85",
    "💥",
    "İ",
    "ﬀ",
    "²",
    "٣",
    "9" * 400,
    "9" * 5000,
    "1e400",
    "1e-400",
    "-1e999999999999",
    "0x1F",
    "1_000",
    "NaN",
    "inf",
    "-0",
    "null",
    "~",
    "true",
    "yes",
    "{",
    "}",
    "[",
    "[]",
    "{}",
    "*a",
    "&a",
    "!!python/object/apply:os.system",
    "!!binary",
    "%YAML 1.1",
    "---",
    "...",
    "? ",
    ": ",
    "- ",
    "'",
    '"',
    "\\",
    "%",
    "%zz",
    "https://[::1",
    "https://u:p@h:99999/",
    "http://h:port",
    "//",
    "/dev/zero",
    "../../etc/passwd",
    "a" * 300,
    "=",
    "==",
    "!=",
    ",",
    "(",
    ")",
    "@",
    "sha256:" + "a" * 64,
    "\ud800",
]

_ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF)


def hostile_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Text mixing hostile atoms with arbitrary characters (controls and surrogates too)."""
    piece = st.one_of(
        st.sampled_from(HOSTILE_ATOMS),
        st.text(_ANY_CHAR, max_size=max_size),
        st.text(st.sampled_from("aZ09-._/:@=!,()[]{}*&?'\" \t\n"), max_size=max_size),
    )
    return st.lists(piece, max_size=4).map("".join)


def utf8_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Hostile text that can be encoded (no lone surrogates), for files and YAML."""
    return hostile_text(max_size).map(lambda s: s.encode("utf-8", "replace").decode("utf-8"))


def splice(parts: list[st.SearchStrategy[str]], *, max_parts: int = 8) -> st.SearchStrategy[str]:
    """Concatenations of grammar pieces: mostly well-formed, often not."""
    return st.lists(st.one_of(*parts), max_size=max_parts).map("".join)


HUGE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.sampled_from([10**400, -(10**400), 2**1000]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def scalars() -> st.SearchStrategy[Any]:
    """Every scalar a safe YAML load can produce, with hostile strings."""
    return st.one_of(
        st.none(),
        st.booleans(),
        HUGE_NUMBERS,
        utf8_text(),
        st.binary(max_size=20),
        st.dates(),
        st.datetimes(),
    )


def trees(
    leaves: st.SearchStrategy[Any] | None = None, *, max_leaves: int = 25
) -> st.SearchStrategy[Any]:
    """Nested mappings and lists of scalars (keys: strings, numbers, booleans, null)."""
    keys = st.one_of(utf8_text(20), st.integers(), st.booleans(), st.none(), st.floats())
    return st.recursive(
        leaves if leaves is not None else scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


# -- rendering trees as YAML text, with the constructs YAML parsers trip on --------------------

ODD_TAGS = [
    "!!python/object/apply:os.system",
    "!!python/name:os.system",
    "!!python/tuple",
    "!!binary",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!timestamp",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!str",
    "!!map",
    "!!seq",
    "!custom",
    "!<tag:yaml.org,2002:python/object:object>",
    "!<tag:example.com,2000:x>",
]


@st.composite
def yaml_text(draw: st.DrawFn, tree: Any) -> str:
    """``tree`` as flow-style YAML, some nodes anchored, aliased or oddly tagged."""
    anchors: list[str] = []

    def scalar(value: Any) -> str:
        choice = draw(st.integers(0, 9))
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            text = json.dumps(value, default=str) if choice else str(value)
        elif choice < 6:
            text = json.dumps(value)  # a double-quoted YAML scalar
        elif choice < 8:
            text = "'" + value.replace("'", "''") + "'"
        else:
            text = value  # plain: may well break the syntax, as users do
        return text

    def render(value: Any, depth: int) -> str:
        roll = draw(st.integers(0, 99))
        if roll < 6 and anchors:
            return "*" + draw(st.sampled_from(anchors))
        prefix = ""
        if roll < 14:
            name = f"a{len(anchors)}"
            prefix = f"&{name} "
            anchors.append(name)
        elif roll < 18:
            prefix = draw(st.sampled_from(ODD_TAGS)) + " "
        if isinstance(value, dict):
            items = [f"{render(k, depth + 1)}: {render(v, depth + 1)}" for k, v in value.items()]
            if items and draw(st.integers(0, 19)) == 0 and anchors:
                items.append(f"<<: *{draw(st.sampled_from(anchors))}")
            body = "{" + ", ".join(items) + "}"
        elif isinstance(value, list):
            body = "[" + ", ".join(render(v, depth + 1) for v in value) + "]"
        else:
            body = scalar(value)
        return prefix + body

    return render(tree, 0)


def block_yaml(tree: Any) -> str:
    """``tree`` as the block-style YAML people write (PyYAML's safe emitter)."""
    try:
        return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return json.dumps(tree, default=str)


def alias_bomb(levels: int, width: int) -> str:
    """A "billion laughs" document: ``width ** levels`` nodes from a few lines."""
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def deep_nesting(depth: int, opener: str) -> str:
    """``depth`` levels of flow or block nesting."""
    if opener == "[":
        return "[" * depth + "]" * depth
    if opener == "{":
        return "{a: " * depth + "b" + "}" * depth
    if opener == "-":
        return "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "x\n"
    return "".join("  " * i + "k:\n" for i in range(depth)) + "  " * depth + "v\n"


@st.composite
def mutated(draw: st.DrawFn, text: str) -> bytes:
    """``text`` encoded, with a few byte-level edits: what a broken editor or a truncated
    transfer leaves (insertions, deletions, duplications, invalid UTF-8, BOMs)."""
    data = bytearray(text.encode("utf-8", "replace"))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(data)))
        edit = draw(st.integers(0, 6))
        if edit == 0:
            del data[position : position + draw(st.integers(1, 8))]
        elif edit == 1:
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif edit == 2:
            data[position:position] = draw(st.sampled_from(HOSTILE_ATOMS)).encode(
                "utf-8", "replace"
            )
        elif edit == 3:
            line_start = data.rfind(b"\n", 0, position) + 1
            data[line_start:line_start] = b" " * draw(st.integers(1, 3))
        elif edit == 4:
            data[position:position] = draw(
                st.sampled_from([b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\x00", b"\r"])
            )
        elif edit == 5:
            del data[position:]
        else:
            chunk = data[position : position + draw(st.integers(1, 40))]
            data[position:position] = chunk
    return bytes(data)


@st.composite
def yaml_documents(draw: st.DrawFn, shapes: st.SearchStrategy[Any]) -> bytes:
    """A YAML stream built from ``shapes``: block or flow style, anchored and tagged,
    sometimes several documents, sometimes an alias bomb or deep nesting, then mutated."""
    kind = draw(st.integers(0, 99))
    if kind < 4:
        return alias_bomb(draw(st.integers(2, 12)), draw(st.integers(2, 12))).encode()
    if kind < 8:
        opener = draw(st.sampled_from("[{-k"))
        # Block nesting indents every line further: 1,000 levels are already 1 MB of text.
        depths = [50, 127, 129, 1000, 10_000] if opener in "[{" else [50, 127, 129, 1000]
        return deep_nesting(draw(st.sampled_from(depths)), opener).encode()
    documents = []
    for _ in range(draw(st.integers(1, 3))):
        tree = draw(shapes)
        text = draw(yaml_text(tree)) if draw(st.booleans()) else block_yaml(tree)
        documents.append(text)
    text = "\n---\n".join(documents)
    if draw(st.integers(0, 2)) == 0:
        return draw(mutated(text))
    return text.encode("utf-8", "replace")


def sometimes(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[Any]:
    """Mostly ``good``; one time in eight a wrong type or a hostile value, so that most
    documents are wrong in one or two places and reach deep into the parser."""
    wrong = bad if bad is not None else st.one_of(json_scalars(), trees(max_leaves=4))
    # sampled_from draws uniformly (integers() favours small values) and shrinks to good.
    return st.sampled_from(range(8)).flatmap(lambda roll: wrong if roll == 7 else good)


def json_scalars() -> st.SearchStrategy[Any]:
    """Scalars JSON holds (what most wrong values in real documents are)."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        utf8_text(),
    )
