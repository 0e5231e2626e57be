"""Generate ``kubeops.models.generated`` from a real kube-apiserver's OpenAPI v3 document.

Starts an API-only testenv (the Kubernetes version pinned in ``controlplane/``),
downloads ``/openapi/v3`` and every API document it links (``api``, ``apis`` and
the group-versions under them), and writes one module of TypedDicts per
OpenAPI schema package: ``core_v1``, ``apps_v1``, ``meta_v1`` (ObjectMeta and the
other types every group shares), ``apiextensions_v1``, ...

    .venv/bin/python scripts/generate_models.py [--out DIR]

The output depends only on the server's documents and is sorted, so running it
again against the same server gives no diff.  How schemas become Python:

* An object schema with properties becomes a ``TypedDict`` (``total=False``; the
  schema's ``required`` properties are ``Required[...]``).  Its docstring is the
  first sentence or two of the schema's description.
* Properties whose names cannot be written as class attributes (``$ref``,
  ``x-kubernetes-...``, keywords such as ``continue`` and ``from``, or a name such
  as ``bool`` that would hide a type used in the same class) are declared in a
  functional-syntax ``TypedDict`` base named ``_<Class>Fields``.
* References to classes are string forward references, and other modules are
  imported only under ``TYPE_CHECKING``: modules never import each other at run
  time, so reference cycles cannot become import cycles, while the annotations
  that Python does evaluate (``Required``, ``Literal``) keep
  ``__required_keys__`` right.
* Schemas that are not objects with properties are written inline where they are
  used (Time -> ``str``, IntOrString -> ``int | str``, Quantity -> ``str``,
  RawExtension and JSON -> ``Any``, FieldsV1 -> ``dict[str, Any]``) and, when their
  package has a module, also as a ``TypeAlias`` of that name.
* Top-level kinds (schemas with ``x-kubernetes-group-version-kind``) type
  ``apiVersion`` and ``kind`` as ``Literal`` values.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "kubeops.models.generated"
DEFAULT_OUT = REPO / "src" / "kubeops" / "models" / "generated"
LINE_LENGTH = 100
INDENT = "    "

Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"
GVK = "x-kubernetes-group-version-kind"
_APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"

# Schemas whose OpenAPI form says less than the Go type does, written as the
# schema that describes the JSON they hold.
OVERRIDES: dict[str, Schema] = {
    # The server always writes quantities as strings ("500m", "1Gi").
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {},
    f"{_APIEXT}.JSON": {},
    f"{_APIEXT}.JSONSchemaPropsOrArray": {
        "oneOf": [
            {"$ref": f"{REF_PREFIX}{_APIEXT}.JSONSchemaProps"},
            {"type": "array", "items": {"$ref": f"{REF_PREFIX}{_APIEXT}.JSONSchemaProps"}},
        ]
    },
    f"{_APIEXT}.JSONSchemaPropsOrBool": {
        "oneOf": [{"$ref": f"{REF_PREFIX}{_APIEXT}.JSONSchemaProps"}, {"type": "boolean"}]
    },
    f"{_APIEXT}.JSONSchemaPropsOrStringArray": {
        "oneOf": [
            {"$ref": f"{REF_PREFIX}{_APIEXT}.JSONSchemaProps"},
            {"type": "array", "items": {"type": "string"}},
        ]
    },
}

SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}

# Names a generated module uses in annotations.  A property with one of these
# names is kept out of the class body, where it would shadow the type for the
# attributes after it (Python scoping says so; some type checkers follow it).
TYPING_NAMES = ("TYPE_CHECKING", "Any", "Literal", "Required", "TypeAlias", "TypedDict")
BUILTIN_NAMES = ("bool", "dict", "float", "int", "list", "str")

# Abbreviations that end in a period without ending a sentence.
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "ex.")


class AdminAPI(Protocol):
    """What the generator needs from an API server connection (testenv's AdminClient)."""

    def get(self, path: str) -> Any: ...


# -- fetching -----------------------------------------------------------------


def is_api_document(path: str) -> bool:
    """True for the OpenAPI documents of the API itself: ``api``, ``apis`` and below."""
    return path.partition("/")[0] in ("api", "apis")


def fetch_documents(admin: AdminAPI) -> tuple[str, dict[str, Schema]]:
    """The server's version (``v1.37.2``) and its API documents, keyed by path."""
    version: str = admin.get("/version")["gitVersion"]
    index = admin.get("/openapi/v3")
    documents = {
        path: admin.get(entry["serverRelativeURL"])
        for path, entry in sorted(index["paths"].items())
        if is_api_document(path)
    }
    return version, documents


def merge_schemas(documents: Mapping[str, Schema]) -> dict[str, Schema]:
    """Every schema of every document, once.

    Each group-version's document repeats the shared types (``meta.v1``, ``core.v1``
    ...); they agree except that types such as DeleteOptions list only the
    group-version kinds of their own document, so those lists are merged.
    """
    merged: dict[str, Schema] = {}
    for path in sorted(documents):
        for name, schema in documents[path].get("components", {}).get("schemas", {}).items():
            seen = merged.get(name)
            if seen is None:
                merged[name] = schema
                continue
            if _without_gvk(seen) != _without_gvk(schema):
                raise ValueError(f"schema {name} differs between documents (seen again in {path})")
            gvks = {_gvk_key(gvk): gvk for gvk in seen.get(GVK, []) + schema.get(GVK, [])}
            if gvks:
                merged[name] = {**seen, GVK: [gvks[key] for key in sorted(gvks)]}
    return dict(sorted(merged.items()))


def _without_gvk(schema: Schema) -> Schema:
    return {key: value for key, value in schema.items() if key != GVK}


def _gvk_key(gvk: Mapping[str, str]) -> tuple[str, str, str]:
    return gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")


# -- naming -------------------------------------------------------------------


def package_of(name: str) -> str:
    return name.rsplit(".", 1)[0]


def class_name(name: str) -> str:
    return name.rsplit(".", 1)[1]


def module_name(package: str) -> str:
    """``io.k8s.api.apps.v1`` -> ``apps_v1``; ``...apis.meta.v1`` -> ``meta_v1``."""
    group, version = package.rsplit(".", 2)[-2:]
    module = f"{group}_{version}".replace("-", "_")
    if not module.isidentifier() or keyword.iskeyword(module):
        raise ValueError(f"schema package {package} gives no usable module name ({module})")
    return module


def api_version(gvk: Mapping[str, str]) -> str:
    group = gvk.get("group", "")
    return f"{group}/{gvk['version']}" if group else gvk["version"]


def is_typed_dict(schema: Schema) -> bool:
    return bool(schema.get("properties"))


def summary(description: str) -> str:
    """The first sentence of a description, and the second when both are short."""
    paragraph = re.split(r"\n\s*\n", description.strip(), maxsplit=1)[0]
    words = paragraph.split()
    sentences: list[list[str]] = [[]]
    for index, word in enumerate(words):
        sentences[-1].append(word)
        following = words[index + 1] if index + 1 < len(words) else ""
        ends = word.endswith((".", "!", "?")) and word.lower().lstrip("(") not in ABBREVIATIONS
        if ends and following[:1].isupper():
            sentences.append([])
    text = " ".join(sentences[0])
    if len(sentences) > 1 and sentences[1] and sentences[1][-1].endswith((".", "!", "?")):
        both = f"{text} {' '.join(sentences[1])}"
        if len(both) <= 200:
            text = both
    return text


# -- rendering ----------------------------------------------------------------


@dataclass
class Module:
    """One generated module: the schemas of one OpenAPI package."""

    name: str
    package: str
    typed_dicts: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    typing: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return {class_name(name) for name in self.typed_dicts + self.aliases}


@dataclass(frozen=True)
class Annotation:
    """A type expression, and whether it names a generated class (so needs quotes)."""

    text: str
    references: bool = False


ANY = Annotation("Any")


class Renderer:
    """Turns the merged schemas into the source of the generated package."""

    def __init__(self, schemas: Mapping[str, Schema], version: str) -> None:
        self.schemas = dict(schemas)
        self.version = version
        self.header = (
            f"# Code generated by scripts/generate_models.py from the Kubernetes {version}"
            " OpenAPI v3 document. DO NOT EDIT."
        )
        self.modules: dict[str, Module] = {}
        for name, schema in self.schemas.items():
            if is_typed_dict(schema) and name not in OVERRIDES:
                self._module_for(package_of(name)).typed_dicts.append(name)
        self.modules_by_package = {module.package: module for module in self.modules.values()}
        for name, schema in self.schemas.items():
            module = self.modules_by_package.get(package_of(name))
            if module is not None and (name in OVERRIDES or not is_typed_dict(schema)):
                module.aliases.append(name)
        reserved = set(TYPING_NAMES) | set(BUILTIN_NAMES) | set(self.modules)
        for module in self.modules.values():
            if clash := sorted(module.names & reserved):
                raise ValueError(f"schemas in {module.package} would hide names: {clash}")

    def _module_for(self, package: str) -> Module:
        name = module_name(package)
        module = self.modules.setdefault(name, Module(name, package))
        if module.package != package:
            raise ValueError(f"schema packages {module.package} and {package} both map to {name}")
        return module

    # types

    def annotation(self, schema: Schema, module: Module) -> Annotation:
        """The Python type of a property (or array item, or map value) schema."""
        if "$ref" in schema:
            return self.reference(schema["$ref"], module)
        if "allOf" in schema:
            if len(schema["allOf"]) != 1:
                raise ValueError(f"allOf with {len(schema['allOf'])} members is not supported")
            return self.annotation(schema["allOf"][0], module)
        if "oneOf" in schema:
            return self.union([self.annotation(member, module) for member in schema["oneOf"]])
        kind = schema.get("type")
        if kind in SCALARS:
            return Annotation(SCALARS[kind])
        if kind == "array":
            item = self.annotation(schema["items"], module) if "items" in schema else ANY
            return Annotation(f"list[{item.text}]", item.references)
        if kind == "object":
            extra = schema.get("additionalProperties")
            if schema.get("properties"):
                raise ValueError("inline object schemas with properties are not supported")
            value = self.annotation(extra, module) if isinstance(extra, dict) else ANY
            return Annotation(f"dict[str, {value.text}]", value.references)
        if kind is None:
            return ANY
        raise ValueError(f"schema type {kind!r} is not supported")

    def union(self, members: Iterable[Annotation]) -> Annotation:
        unique: list[Annotation] = []
        for member in members:
            if member.text == "Any":
                return ANY
            if member not in unique:
                unique.append(member)
        return Annotation(
            " | ".join(member.text for member in unique),
            any(member.references for member in unique),
        )

    def reference(self, ref: str, module: Module) -> Annotation:
        if not ref.startswith(REF_PREFIX):
            raise ValueError(f"reference {ref} is not to a component schema")
        name = ref.removeprefix(REF_PREFIX)
        if name not in self.schemas:
            raise ValueError(f"reference to unknown schema {name}")
        schema = self.schemas[name]
        if name in OVERRIDES or not is_typed_dict(schema):
            return self.alias_target(name, module)
        target = self.modules_by_package[package_of(name)].name
        if target == module.name:
            return Annotation(class_name(name), references=True)
        module.imports.add(target)
        return Annotation(f"{target}.{class_name(name)}", references=True)

    def alias_target(self, name: str, module: Module) -> Annotation:
        """The type a schema that is not a TypedDict stands for."""
        schema = OVERRIDES.get(name, self.schemas[name])
        if "properties" in schema or "$ref" in schema or "allOf" in schema:
            raise ValueError(f"schema {name} cannot be written inline")
        return self.annotation(schema, module)

    def field_annotation(self, schema: Schema, name: str, prop: Schema, module: Module) -> str:
        gvks = schema.get(GVK, [])
        if gvks and name == "apiVersion":
            text = literal(api_version(gvk) for gvk in gvks)
        elif gvks and name == "kind":
            text = literal(gvk["kind"] for gvk in gvks)
        else:
            annotation = self.annotation(prop, module)
            text = f'"{annotation.text}"' if annotation.references else annotation.text
        if name in schema.get("required", []):
            text = f"Required[{text}]"
        note_typing(module, text)
        return text

    # source

    def render(self) -> dict[str, str]:
        """File name -> source, for every module and the package ``__init__``."""
        files = {f"{name}.py": self.render_module(module) for name, module in self.modules.items()}
        files["__init__.py"] = self.render_init()
        return dict(sorted(files.items()))

    def render_module(self, module: Module) -> str:
        module.imports.clear()
        module.typing.clear()
        shadowed = set(TYPING_NAMES) | set(BUILTIN_NAMES) | set(self.modules) | module.names
        aliases = "\n\n".join(self.render_alias(name, module) for name in sorted(module.aliases))
        blocks = [aliases] if aliases else []
        for name in sorted(module.typed_dicts, key=class_name):
            blocks.append(self.render_typed_dict(name, module, shadowed))
        lines = [self.header, docstring(self.module_docstring(module), ""), ""]
        if module.imports:
            module.typing.add("TYPE_CHECKING")
        lines.append(
            f"from typing import {', '.join(n for n in TYPING_NAMES if n in module.typing)}"
        )
        if module.imports:
            lines += ["", "if TYPE_CHECKING:"]
            lines.append(
                wrap_import(f"{INDENT}from {PACKAGE} import ", sorted(module.imports), INDENT)
            )
        # isort puts two blank lines between the imports and a class, one before anything else.
        gap = ["", ""] if blocks[0].startswith("class ") else [""]
        return "\n".join([*lines, *gap, "\n\n\n".join(blocks), ""])

    def module_docstring(self, module: Module) -> str:
        versions = {
            api_version(gvk)
            for name in module.typed_dicts
            for gvk in self.schemas[name].get(GVK, [])
        }
        if len(versions) == 1:
            return f"Types of the Kubernetes {versions.pop()} API (schemas {module.package}.*)."
        return f"Types of the Kubernetes API schemas {module.package}.*."

    def render_alias(self, name: str, module: Module) -> str:
        target = self.alias_target(name, module)
        value = f'"{target.text}"' if target.references else target.text
        note_typing(module, value)
        module.typing.add("TypeAlias")
        description = self.schemas[name].get("description", "")
        lines = (
            [f"#: {line}" for line in wrap_text(summary(description), "")] if description else []
        )
        return "\n".join([*lines, f"{class_name(name)}: TypeAlias = {value}"])

    def render_typed_dict(self, name: str, module: Module, shadowed: set[str]) -> str:
        schema = self.schemas[name]
        cls = class_name(name)
        plain: list[str] = []
        odd: list[str] = []
        for prop_name in sorted(schema["properties"]):
            usable = (
                prop_name.isidentifier()
                and not keyword.iskeyword(prop_name)
                and not prop_name.startswith("__")
                and prop_name not in shadowed
            )
            (plain if usable else odd).append(prop_name)

        def annotate(prop_name: str) -> str:
            return self.field_annotation(schema, prop_name, schema["properties"][prop_name], module)

        blocks: list[str] = []
        base = "TypedDict"
        module.typing.add("TypedDict")
        if odd:
            base = f"_{cls}Fields"
            items = [field_line(quote(prop), annotate(prop), INDENT * 2, ",") for prop in odd]
            # Names that are identifiers but hide a type (``bool``) could be class
            # attributes as far as ruff can tell; they stay here on purpose.
            identifiers = all(prop.isidentifier() and not keyword.iskeyword(prop) for prop in odd)
            noqa = "  # noqa: UP013" if identifiers else ""
            blocks.append(
                "\n".join(
                    [
                        f"{base} = TypedDict({noqa}",
                        f"{INDENT}{quote(base)},",
                        f"{INDENT}{{",
                        *items,
                        f"{INDENT}}},",
                        f"{INDENT}total=False,",
                        ")",
                    ]
                )
            )
        lines = [f"class {cls}({base}, total=False):"]
        description = schema.get("description", "")
        if description:
            lines.append(docstring(summary(description), INDENT))
            if plain:
                lines.append("")
        lines.extend(field_line(prop, annotate(prop), INDENT) for prop in plain)
        if len(lines) == 1:
            lines.append(f"{INDENT}pass")
        blocks.append("\n".join(lines))
        return "\n\n\n".join(blocks)

    def render_init(self) -> str:
        kinds: dict[str, list[str]] = {}
        for module in self.modules.values():
            for name in module.typed_dicts:
                if self.schemas[name].get(GVK):
                    kinds.setdefault(class_name(name), []).append(module.name)
        exported = {kind: modules[0] for kind, modules in kinds.items() if len(modules) == 1}
        ambiguous = {kind: modules for kind, modules in kinds.items() if len(modules) > 1}
        by_module: dict[str, list[str]] = {}
        for kind, module_ in exported.items():
            by_module.setdefault(module_, []).append(kind)
        text = (
            "Objects stay the JSON dicts the API server sends; these TypedDicts only type them. "
            "There is one module per API group-version (core_v1, apps_v1, ...; meta_v1 holds "
            "ObjectMeta and the other types every group shares). Kinds whose name is unique "
            "are re-exported here, each module imported on first use, so importing this "
            "package costs nothing."
        )
        if ambiguous:
            text += " These kinds are served by more than one group-version; import them from "
            text += "their module: "
            text += ", ".join(
                f"{kind} ({', '.join(ambiguous[kind])})" for kind in sorted(ambiguous)
            )
            text += "."
        names = sorted(exported, key=natural_key)
        lines = [
            self.header,
            f'"""Types of the built-in kinds, from the Kubernetes {self.version} OpenAPI v3 document.',
            "",
            *wrap_text(text, ""),
            '"""',
            "",
            "import importlib",
            "from typing import TYPE_CHECKING",
            "",
            "if TYPE_CHECKING:",
        ]
        for module_ in sorted(by_module):
            lines.append(
                wrap_import(
                    f"{INDENT}from {PACKAGE}.{module_} import ",
                    isort_order(by_module[module_]),
                    INDENT,
                )
            )
        lines += ["", "__all__ = ["]
        lines += [f"{INDENT}{quote(kind)}," for kind in names]
        lines += ["]", ""]
        lines += [
            "# The module of each kind, imported when the kind is first used.",
            "_MODULES = {",
        ]
        lines += [f"{INDENT}{quote(kind)}: {quote(exported[kind])}," for kind in names]
        lines += ["}", "", ""]
        lines += LAZY_IMPORT.splitlines()
        return "\n".join([*lines, ""])


# Only the run time sees __getattr__: to a type checker, a name missing from this
# package must stay an error rather than an ``object``.
LAZY_IMPORT = """\
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_MODULES})"""


def note_typing(module: Module, annotation: str) -> None:
    """Record the names from ``typing`` an annotation uses, for the module's import."""
    module.typing.update(name for name in TYPING_NAMES if re.search(rf"\b{name}\b", annotation))


# -- formatting (matches `ruff format`, so the output needs no formatter) --------


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(values: Iterable[str]) -> str:
    return "Literal[" + ", ".join(quote(value) for value in sorted(set(values))) + "]"


def field_line(key: str, annotation: str, indent: str, end: str = "") -> str:
    """``key: annotation`` as ``ruff format`` writes it: a Literal too long for one line
    gets one value per line; nothing else generated is ever that long."""
    line = f"{indent}{key}: {annotation}{end}"
    if len(line) <= LINE_LENGTH:
        return line
    match = re.fullmatch(r"(Required\[)?Literal\[(.*?)\]\]?", annotation)
    if match is None:
        raise ValueError(f"no way to wrap the annotation of {key}: {annotation}")
    opening = f"{match.group(1) or ''}Literal["
    closing = "]]" if match.group(1) else "]"
    values = [f"{indent}{INDENT}{value}," for value in match.group(2).split(", ")]
    return "\n".join([f"{indent}{key}: {opening}", *values, f"{indent}{closing}{end}"])


def wrap_text(text: str, indent: str, width: int = LINE_LENGTH) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


def docstring(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    single = f'{indent}"""{text}"""'
    if len(single) <= LINE_LENGTH:
        return single
    # Leave room for the closing quotes: `ruff format` joins them to a single line.
    lines = wrap_text(f'"""{text}', indent, LINE_LENGTH - 3)
    if len(lines) == 1:
        return f'{lines[0]}"""'
    return "\n".join([*lines, f'{indent}"""'])


def wrap_import(prefix: str, names: list[str], indent: str) -> str:
    single = prefix + ", ".join(names)
    if len(single) <= LINE_LENGTH:
        return single
    return "\n".join([f"{prefix}(", *[f"{indent}{INDENT}{name}," for name in names], f"{indent})"])


def isort_order(names: Iterable[str]) -> list[str]:
    """The order ruff's isort gives imported names: constants, classes, then the rest."""

    def key(name: str) -> tuple[int, str, str]:
        kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
        return kind, name.lower(), name

    return sorted(names, key=key)


def natural_key(name: str) -> tuple[int, list[int | str]]:
    """The order ruff's RUF022 wants in ``__all__``."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    parts: list[int | str] = [
        int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)
    ]
    return kind, parts


# -- files --------------------------------------------------------------------


def write(files: Mapping[str, str], out: Path) -> None:
    """Write the package; generated modules no longer produced are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out.glob("*.py")):
        if stale.name not in files and stale.read_text().startswith("# Code generated by "):
            stale.unlink()
    for file_name, source in files.items():
        path = out / file_name
        if not path.exists() or path.read_text() != source:
            path.write_text(source)


def generate(admin: AdminAPI) -> dict[str, str]:
    version, documents = fetch_documents(admin)
    return Renderer(merge_schemas(documents), version).render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output package (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)

    from kubeops.testenv import Environment

    with Environment(api_only=True) as env:
        files = generate(env.cluster().admin)
    write(files, args.out)
    size = sum(len(source.encode()) for source in files.values())
    print(f"wrote {len(files)} files ({size // 1024} KiB) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
