"""Label and field selectors that parse, match and print as the API server's do.

Label selectors pick the objects that lists, watches, informers and rules work
on, and Deployments, Services or PodDisruptionBudgets carry one in API form
(``matchLabels`` and ``matchExpressions``).  Field selectors are the server's
smaller language over a few fields per kind (``status.phase!=Running``).  Both
follow apimachinery's ``labels`` and ``fields`` packages -- syntax, validation,
matching and canonical text -- so a selector kubeops matches in a cache selects
what the server would, and one it prints reads back the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Final, NoReturn

from kubeops.errors import KubeopsError

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "parse_field_selector",
    "parse_selector",
]


class SelectorError(KubeopsError, ValueError):
    """A selector, or one of its requirements, is not valid; says where and why."""

    def __init__(
        self,
        reason: str,
        *,
        text: str | None = None,
        position: int | None = None,
        field: str | None = None,
        kind: str = "label selector",
    ) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        self.field = field
        subject = f"invalid {kind}"
        if text is not None:
            subject += f" {text!r}"
        if position is not None:
            subject += f" at position {position}"
        if field is not None:
            subject += f" at {field}"
        super().__init__(f"{subject}: {reason}")


class Operator(StrEnum):
    """How a requirement relates a key to its values; the values are Kubernetes' own."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_SET_OPERATORS: Final = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPERATORS: Final = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_UNARY_OPERATORS: Final = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_NUMERIC_OPERATORS: Final = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
# The operators of matchExpressions in API objects, which spell them differently.
_API_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}
_API_NAMES: Final = {operator: name for name, operator in _API_OPERATORS.items()}

_NAME: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_NAME_MAX: Final = 63
_PREFIX_MAX: Final = 253
_NAME_RULE: Final = (
    "consist of alphanumeric characters, '-', '_' or '.', "
    "and start and end with an alphanumeric character"
)


def _key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key (``[prefix/]name``), or None."""
    problems: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        problems.append(
            "a key is a name with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/my-name'), so it has at most one '/'"
        )
        name = ""
    else:
        name = parts[-1]
        if len(parts) == 2:
            prefix = parts[0]
            if not prefix:
                problems.append("the prefix before '/' is empty")
            elif len(prefix) > _PREFIX_MAX:
                problems.append(f"the prefix must be at most {_PREFIX_MAX} characters")
            elif not _DNS_SUBDOMAIN.fullmatch(prefix):
                problems.append(
                    "the prefix must be a DNS subdomain: lowercase alphanumeric characters, "
                    "'-' or '.', starting and ending with an alphanumeric character "
                    "(e.g. 'example.com')"
                )
        if not name:
            problems.append("the name part is empty")
        else:
            if len(name) > _NAME_MAX:
                problems.append(
                    f"the name part must be at most {_NAME_MAX} characters, not {len(name)}"
                )
            if not _NAME.fullmatch(name):
                problems.append(
                    f"the name part must {_NAME_RULE} (e.g. 'MyName', 'my.name', '123-abc')"
                )
    if not problems:
        return None
    return f"key {key!r} is invalid: " + "; ".join(problems)


def _value_problem(key: str, value: str) -> str | None:
    """Why ``value`` is not a label value, or None."""
    problems: list[str] = []
    if len(value) > _NAME_MAX:
        problems.append(f"it must be at most {_NAME_MAX} characters, not {len(value)}")
    if value and not _NAME.fullmatch(value):
        problems.append(f"it must be empty or {_NAME_RULE} (e.g. 'MyValue', 'my_value', '12345')")
    if not problems:
        return None
    return f"value {value!r} for key {key!r} is invalid: " + "; ".join(problems)


def _is_int64(text: str) -> bool:
    return bool(_INTEGER.fullmatch(text)) and -(2**63) <= int(text) < 2**63


def _requirement_problem(
    key: str, operator: Operator, values: Sequence[str], operator_name: str | None = None
) -> tuple[str, str] | None:
    """The first problem of a requirement as (the part it is in, reason), or None.

    The part is ``"key"``, ``"values"`` or ``"values[i]"``, for callers that point at it.
    """
    if (problem := _key_problem(key)) is not None:
        return "key", problem
    name = operator_name or repr(operator.value)
    if operator in _SET_OPERATORS and not values:
        return "values", f"operator {name} needs at least one value"
    if operator in _EXACT_OPERATORS | _NUMERIC_OPERATORS and len(values) != 1:
        return "values", f"operator {name} takes exactly one value, not {len(values)}"
    if operator in _UNARY_OPERATORS and values:
        return "values", f"operator {name} takes no values, not {len(values)}"
    for index, value in enumerate(values):
        if (problem := _value_check(key, operator, value, name)) is not None:
            return f"values[{index}]", problem
    return None


def _value_check(key: str, operator: Operator, value: str, operator_name: str) -> str | None:
    """Why ``value`` cannot be a value of ``operator`` on ``key``, or None."""
    if operator in _NUMERIC_OPERATORS and not _is_int64(value):
        return f"operator {operator_name} compares integers; {value!r} is not one"
    return _value_problem(key, value)


def _operator(value: Operator | str, kind: str) -> Operator:
    try:
        return Operator(value)
    except ValueError:
        known = ", ".join(repr(op.value) for op in Operator)
        raise SelectorError(
            f"unknown operator {value!r}; expected one of {known}", kind=kind
        ) from None


def _strings(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what} takes a list of strings, not a string: write [{values!r}]")
    try:
        result = tuple(values)
    except TypeError:
        raise TypeError(f"{what} takes a list of strings, not {type(values).__name__}") from None
    for value in result:
        if not isinstance(value, str):
            raise TypeError(f"{what} takes strings, not {type(value).__name__} ({value!r})")
    return result


class Requirement:
    """One condition on one label key; a :class:`Selector` is the AND of several.

    ``values`` of ``in`` and ``notin`` are kept as a sorted set, as Kubernetes
    treats them; the other operators take exactly one value (``=``, ``==``,
    ``!=``, and ``gt``/``lt`` with an integer) or none (``exists``, ``!``).
    """

    __slots__ = ("_value_set", "key", "operator", "values")

    key: str
    operator: Operator
    values: tuple[str, ...]
    _value_set: frozenset[str]

    def __init__(self, key: str, operator: Operator | str, values: Iterable[str] = ()) -> None:
        kind = "label selector requirement"
        op = _operator(operator, kind)
        given = _strings(values, "Requirement values")
        if op in _SET_OPERATORS:
            given = tuple(sorted(set(given)))
        if (problem := _requirement_problem(key, op, given)) is not None:
            raise SelectorError(problem[1], kind=kind)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "operator", op)
        object.__setattr__(self, "values", given)
        object.__setattr__(self, "_value_set", frozenset(given))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (a missing key satisfies ``!=`` and ``notin``)."""
        value = labels.get(self.key)
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return value is not None and value in self._value_set
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return value is None or value not in self._value_set
        if op is Operator.EXISTS:
            return value is not None
        if op is Operator.DOES_NOT_EXIST:
            return value is None
        # gt and lt: a label that is not an integer does not match.
        if value is None or not _is_int64(value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if op is Operator.GREATER_THAN else int(value) < bound

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in _SET_OPERATORS:
            return f"{self.key} {op.value} ({','.join(self.values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{self.values[0]}"

    def __repr__(self) -> str:
        return f"Requirement({self.key!r}, {self.operator.value!r}, {list(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Requirement):
            return (self.key, self.operator, self.values) == (
                other.key,
                other.operator,
                other.values,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.key, self.operator, self.values))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Requirement is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Requirement, (self.key, self.operator.value, self.values))


class Selector:
    """An immutable label selector: the AND of its requirements, sorted by key.

    Two selectors are special, as in the API conventions: an *empty* selector
    (``Selector.everything()``, ``parse_selector("")``, API form ``{}``) matches
    every object, while ``Selector.nothing()`` -- what an absent (``None``)
    selector in an API object means -- matches none.  Both print as ``""`` like
    Kubernetes' own; check :attr:`selects_nothing` before sending one as a
    query, where an empty string would select everything.
    """

    __slots__ = ("_nothing", "_requirements")

    _requirements: tuple[Requirement, ...]
    _nothing: bool

    def __init__(self, requirements: Iterable[Requirement] = ()) -> None:
        given = tuple(requirements)
        for requirement in given:
            if not isinstance(requirement, Requirement):
                raise TypeError(
                    f"a Selector is made of Requirements, not {type(requirement).__name__}"
                )
        object.__setattr__(self, "_requirements", tuple(sorted(given, key=lambda r: r.key)))
        object.__setattr__(self, "_nothing", False)

    @classmethod
    def everything(cls) -> Selector:
        """The empty selector, which matches every object."""
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        """The selector that matches no object: what an absent selector in an API object means."""
        selector = cls()
        object.__setattr__(selector, "_nothing", True)
        return selector

    @classmethod
    def parse(cls, text: str) -> Selector:
        """The selector ``text`` writes; see :func:`parse_selector`."""
        return parse_selector(text)

    @classmethod
    def of(
        cls,
        labels: Mapping[str, str | Iterable[str]] | None = None,
        /,
        **more: str | Iterable[str],
    ) -> Selector:
        """A selector from key/value pairs: a string value means ``=``, a list of them ``in``.

        ``Selector.of(app="web", tier=["a", "b"])`` is ``app=web,tier in (a,b)``; keys
        that are not Python names go in the mapping:
        ``Selector.of({"app.kubernetes.io/name": "web"})``.
        """
        items = dict(labels or {})
        for key, value in more.items():
            if key in items:
                raise SelectorError(f"key {key!r} is given twice")
            items[key] = value
        requirements = [
            Requirement(key, Operator.EQUALS, [value])
            if isinstance(value, str)
            else Requirement(key, Operator.IN, value)
            for key, value in items.items()
        ]
        return cls(requirements)

    @classmethod
    def from_label_selector(cls, obj: Mapping[str, Any] | None) -> Selector:
        """The selector an API object's ``LabelSelector`` (``matchLabels``, ``matchExpressions``) means.

        ``None`` (the field is absent) gives :meth:`nothing`; ``{}`` gives :meth:`everything`.
        """
        if obj is None:
            return cls.nothing()
        if not isinstance(obj, Mapping):
            raise SelectorError(
                f"expected a mapping with matchLabels and matchExpressions, not {type(obj).__name__}"
            )
        _reject_unknown(obj, ("matchLabels", "matchExpressions"), "")
        requirements: list[Requirement] = []
        labels = obj.get("matchLabels")
        if labels is None:
            labels = {}
        if not isinstance(labels, Mapping):
            raise SelectorError(
                f"matchLabels must map keys to values, not be a {type(labels).__name__}",
                field="matchLabels",
            )
        for key, value in labels.items():
            path = f"matchLabels[{key!r}]"
            if not isinstance(key, str) or not isinstance(value, str):
                raise SelectorError(
                    f"labels map strings to strings, not {type(key).__name__} to {type(value).__name__}",
                    field=path,
                )
            requirements.append(
                _api_requirement(key, Operator.EQUALS, [value], "'='", path, parts=False)
            )
        expressions = obj.get("matchExpressions")
        if expressions is None:
            expressions = []
        if isinstance(expressions, str | bytes) or not isinstance(expressions, Sequence):
            raise SelectorError(
                f"matchExpressions must be a list, not a {type(expressions).__name__}",
                field="matchExpressions",
            )
        for index, expression in enumerate(expressions):
            requirements.append(_api_expression(expression, f"matchExpressions[{index}]"))
        return cls(requirements)

    def to_label_selector(self) -> dict[str, Any]:
        """This selector in API form: ``matchLabels`` for ``=``, ``matchExpressions`` for the rest.

        ``!=`` becomes ``NotIn`` with one value, which selects the same objects.
        Raises :class:`SelectorError` for ``gt``/``lt``, which the API form lacks,
        and for :meth:`nothing`, whose API form is leaving the field out.
        """
        if self._nothing:
            raise SelectorError(
                "a selector that matches nothing has no API form; in an API object it is an absent selector",
                text=str(self),
            )
        match_labels: dict[str, str] = {}
        expressions: list[dict[str, Any]] = []
        for requirement in self._requirements:
            op, key, values = requirement.operator, requirement.key, list(requirement.values)
            if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS) and key not in match_labels:
                match_labels[key] = values[0]
                continue
            if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS):
                op = Operator.IN  # a second '=' on the same key
            elif op is Operator.NOT_EQUALS:
                op = Operator.NOT_IN
            if op not in _API_NAMES:
                raise SelectorError(
                    f"{str(requirement)!r}: label selectors in API objects have no {op.value!r} operator",
                    text=str(self),
                )
            expression: dict[str, Any] = {"key": key, "operator": _API_NAMES[op]}
            if values:
                expression["values"] = values
            expressions.append(expression)
        result: dict[str, Any] = {}
        if match_labels:
            result["matchLabels"] = match_labels
        if expressions:
            result["matchExpressions"] = expressions
        return result

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements, all of which an object's labels must meet."""
        return self._requirements

    @property
    def selects_everything(self) -> bool:
        """Whether this is the empty selector (Kubernetes' ``Empty()``)."""
        return not self._nothing and not self._requirements

    @property
    def selects_nothing(self) -> bool:
        """Whether this is :meth:`nothing`."""
        return self._nothing

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with ``requirements`` added (the AND of both)."""
        if self._nothing:
            return self
        return Selector((*self._requirements, *requirements))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with ``labels`` (``None`` for none) is selected."""
        if self._nothing:
            return False
        present = labels or {}
        return all(requirement.matches(present) for requirement in self._requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have (from ``=``, ``==`` or a one-value ``in``), else None."""
        for requirement in self._requirements:
            if requirement.key == key:
                exact = requirement.operator in (
                    Operator.IN,
                    Operator.EQUALS,
                    Operator.DOUBLE_EQUALS,
                )
                return requirement.values[0] if exact and len(requirement.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "Selector.nothing()"
        if not self._requirements:
            return "Selector.everything()"
        return f"Selector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Selector):
            return (self._nothing, self._requirements) == (other._nothing, other._requirements)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._nothing, self._requirements))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Selector is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        if self._nothing:
            return (Selector.nothing, ())
        return (Selector, (self._requirements,))


def _reject_unknown(obj: Mapping[str, Any], known: tuple[str, ...], path: str) -> None:
    # A misspelt field would otherwise widen the selector, e.g. to everything.
    for name in obj:
        if name not in known:
            raise SelectorError(
                f"unknown field {name!r}; expected one of {', '.join(known)}",
                field=path or None,
            )


def _api_requirement(
    key: str, op: Operator, values: Sequence[str], operator_name: str, path: str, *, parts: bool
) -> Requirement:
    """The requirement, or an error at ``path`` (or at its part that is wrong, with ``parts``)."""
    problem = _requirement_problem(key, op, values, operator_name)
    if problem is not None:
        part, reason = problem
        raise SelectorError(reason, field=f"{path}.{part}" if parts else path)
    return Requirement(key, op, values)


def _api_expression(expression: object, path: str) -> Requirement:
    if not isinstance(expression, Mapping):
        raise SelectorError(
            f"an expression is a mapping with key, operator and values, not a {type(expression).__name__}",
            field=path,
        )
    _reject_unknown(expression, ("key", "operator", "values"), path)
    key = expression.get("key")
    if not isinstance(key, str):
        raise SelectorError("the key is missing or not a string", field=f"{path}.key")
    name = expression.get("operator")
    if name not in _API_OPERATORS:
        raise SelectorError(
            f"{name!r} is not a label selector operator; expected In, NotIn, Exists or DoesNotExist",
            field=f"{path}.operator",
        )
    values = expression.get("values")
    if values is None:
        values = []
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise SelectorError(
            f"values must be a list of strings, not a {type(values).__name__}",
            field=f"{path}.values",
        )
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise SelectorError(
                f"values are strings, not {type(value).__name__}", field=f"{path}.values[{index}]"
            )
    return _api_requirement(key, _API_OPERATORS[name], values, name, path, parts=True)


# --- the string form of label selectors --------------------------------------------------------

_SPECIAL: Final = frozenset("=!(),<>")
_WHITESPACE: Final = frozenset(" \t\r\n")
_OPERATOR_TOKENS: Final = {
    "=": Operator.EQUALS,
    "==": Operator.DOUBLE_EQUALS,
    "!=": Operator.NOT_EQUALS,
    "in": Operator.IN,
    "notin": Operator.NOT_IN,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}


class _Token:
    __slots__ = ("kind", "position", "text")

    def __init__(self, kind: str, text: str, position: int) -> None:
        self.kind = kind  # "word", "in", "notin", "end", or the symbol itself
        self.text = text
        self.position = position

    def describe(self) -> str:
        return "end of string" if self.kind == "end" else repr(self.text)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos == end:
            tokens.append(_Token("end", "", end))
            return tokens
        if text[pos] in _SPECIAL:
            symbol = text[pos : pos + 2] if text[pos : pos + 2] in ("!=", "==") else text[pos]
            tokens.append(_Token(symbol, symbol, pos))
            pos += len(symbol)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append(_Token(word if word in ("in", "notin") else "word", word, start))


class _LabelParser:
    """Kubernetes' grammar: ``[!]key [(=|==|!=|>|<) value | (in|notin) (v1,v2)]``, comma-separated."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokens(text)
        self._next = 0

    def _fail(self, position: int, reason: str) -> NoReturn:
        raise SelectorError(reason, text=self._text, position=position)

    def _peek(self) -> _Token:
        return self._word(self._tokens[self._next])

    def _take(self, operator: bool = False) -> _Token:
        token = self._tokens[self._next]
        self._next += 1
        # 'in' and 'notin' are keywords only where an operator goes: 'in in (in)' is valid.
        return token if operator else self._word(token)

    @staticmethod
    def _word(token: _Token) -> _Token:
        if token.kind in ("in", "notin"):
            return _Token("word", token.text, token.position)
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        if self._peek().kind == "end":
            return requirements
        while True:
            token = self._peek()
            if token.kind not in ("word", "!"):
                self._fail(token.position, f"expected a key or '!key', found {token.describe()}")
            requirements.append(self._requirement())
            token = self._take()
            if token.kind == "end":
                return requirements
            if token.kind != ",":
                self._fail(
                    token.position,
                    f"expected ',' or the end after a requirement, found {token.describe()}",
                )

    def _requirement(self) -> Requirement:
        token = self._take()
        negated = token.kind == "!"
        if negated:
            token = self._take()
        if token.kind != "word":
            after = " after '!'" if negated else ""
            self._fail(token.position, f"expected a key{after}, found {token.describe()}")
        key = token.text
        if (problem := _key_problem(key)) is not None:
            self._fail(token.position, problem)
        following = self._peek()
        if following.kind in ("end", ","):
            return Requirement(key, Operator.DOES_NOT_EXIST if negated else Operator.EXISTS)
        if negated:
            self._fail(
                following.position,
                f"'!{key}' selects objects without the key and takes no operator or value, "
                f"found {following.describe()}",
            )
        token = self._take(operator=True)
        op = _OPERATOR_TOKENS.get(token.text) if token.kind != "word" else None
        if op is None:
            self._fail(
                token.position,
                f"expected an operator (=, ==, !=, in, notin, >, <) after key {key!r}, "
                f"found {token.describe()}",
            )
        # The grammar guarantees the number of values; each one is checked where it stands.
        values = self._value_set(key) if op in _SET_OPERATORS else [self._exact_value(key)]
        for value, position in values:
            if (problem := _value_check(key, op, value, repr(token.text))) is not None:
                self._fail(position, problem)
        return Requirement(key, op, [value for value, _ in values])

    def _value_set(self, key: str) -> list[tuple[str, int]]:
        token = self._take()
        if token.kind != "(":
            self._fail(
                token.position, f"expected '(' and the values of {key!r}, found {token.describe()}"
            )
        values: list[tuple[str, int]] = []
        # Kubernetes allows empty items: '()' and '(a,)' both contain the empty value.
        expecting_value = True
        while True:
            token = self._take()
            if token.kind == "word":
                if not expecting_value:
                    self._fail(
                        token.position,
                        f"expected ',' or ')' between values, found {token.describe()}",
                    )
                values.append((token.text, token.position))
                expecting_value = False
            elif token.kind in (",", ")"):
                if expecting_value:
                    values.append(("", token.position))
                expecting_value = True
                if token.kind == ")":
                    return values
            else:
                self._fail(
                    token.position, f"expected a value, ',' or ')', found {token.describe()}"
                )

    def _exact_value(self, key: str) -> tuple[str, int]:
        token = self._peek()
        if token.kind in ("end", ","):
            return "", token.position  # 'a=' selects the empty value
        token = self._take()
        if token.kind != "word":
            self._fail(token.position, f"expected a value for {key!r}, found {token.describe()}")
        return token.text, token.position


def parse_selector(text: str) -> Selector:
    """Parse a label selector's string form (``app=web,tier in (a,b),!canary``).

    Raises :class:`SelectorError` naming the input, the position and the problem.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_selector takes a str, not {type(text).__name__}")
    return Selector(_LabelParser(text).parse())


# --- field selectors ---------------------------------------------------------------------------

_FIELD_ESCAPES: Final = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})
_FIELD_OPERATORS: Final = ("!=", "==", "=")  # tried in this order at each position, as Go does


def _field_problem(field: str) -> str | None:
    if not field:
        return "the field name before the operator is empty"
    bad = next((char for char in field if char.isspace() or char in "=,!\\"), None)
    if bad is not None:
        return f"field name {field!r} contains {bad!r}; field names look like 'metadata.name'"
    return None


class FieldRequirement:
    """``field=value`` or ``field!=value``: a field selector's one kind of term.

    ``==`` is accepted and kept as ``=``, as the API server does.
    """

    __slots__ = ("field", "operator", "value")

    field: str
    operator: Operator
    value: str

    def __init__(self, field: str, operator: Operator | str, value: str) -> None:
        kind = "field selector requirement"
        op = _operator(operator, kind)
        if op not in _EXACT_OPERATORS:
            raise SelectorError(
                f"field selectors support only '=', '==' and '!=', not {op.value!r}", kind=kind
            )
        if (problem := _field_problem(field)) is not None:
            raise SelectorError(problem, kind=kind)
        if not isinstance(value, str):
            raise TypeError(f"a field selector value is a str, not {type(value).__name__}")
        object.__setattr__(self, "field", field)
        object.__setattr__(
            self, "operator", Operator.NOT_EQUALS if op is Operator.NOT_EQUALS else Operator.EQUALS
        )
        object.__setattr__(self, "value", value)

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether ``fields`` satisfy this term; a missing field counts as ``""``, as on the server."""
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator is Operator.EQUALS else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator.value}{self.value.translate(_FIELD_ESCAPES)}"

    def __repr__(self) -> str:
        return f"FieldRequirement({self.field!r}, {self.operator.value!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldRequirement):
            return (self.field, self.operator, self.value) == (
                other.field,
                other.operator,
                other.value,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.field, self.operator, self.value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"FieldRequirement is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FieldRequirement, (self.field, self.operator.value, self.value))


class FieldSelector:
    """An immutable field selector: the AND of its terms, sorted by text as the API server does."""

    __slots__ = ("_requirements",)

    _requirements: tuple[FieldRequirement, ...]

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        given = tuple(requirements)
        for requirement in given:
            if not isinstance(requirement, FieldRequirement):
                raise TypeError(
                    f"a FieldSelector is made of FieldRequirements, not {type(requirement).__name__}"
                )
        object.__setattr__(self, "_requirements", tuple(sorted(given, key=str)))

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """The selector ``text`` writes; see :func:`parse_field_selector`."""
        return parse_field_selector(text)

    @classmethod
    def of(cls, fields: Mapping[str, str] | None = None, /, **more: str) -> FieldSelector:
        """Equality terms: ``FieldSelector.of({"metadata.name": "web"})``."""
        items = dict(fields or {})
        for field, value in more.items():
            if field in items:
                raise SelectorError(f"field {field!r} is given twice", kind="field selector")
            items[field] = value
        return cls(
            FieldRequirement(field, Operator.EQUALS, value) for field, value in items.items()
        )

    @property
    def requirements(self) -> tuple[FieldRequirement, ...]:
        """The requirements, all of which an object's fields must meet."""
        return self._requirements

    @property
    def selects_everything(self) -> bool:
        """Whether this is the empty selector (no requirement)."""
        return not self._requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether an object whose selectable fields are ``fields`` is selected."""
        return all(requirement.matches(fields) for requirement in self._requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, if a ``=`` term says so, else None."""
        for requirement in self._requirements:
            if requirement.field == field and requirement.operator is Operator.EQUALS:
                return requirement.value
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self._requirements)

    def __repr__(self) -> str:
        return f"FieldSelector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldSelector):
            return self._requirements == other._requirements
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._requirements)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"FieldSelector is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FieldSelector, (self._requirements,))


def _field_terms(text: str) -> list[tuple[str, int]]:
    """``text`` split at commas that no backslash escapes, with each term's position."""
    terms: list[tuple[str, int]] = []
    start, escaped = 0, False
    for pos, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append((text[start:pos], start))
            start = pos + 1
    terms.append((text[start:], start))
    return terms


def _unescape_field_value(text: str, raw: str, offset: int) -> str:
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            if char not in "\\,=":
                raise SelectorError(
                    f"invalid escape sequence '\\{char}'; only '\\\\', '\\,' and '\\=' are escapes",
                    text=text,
                    position=offset + index - 1,
                    kind="field selector",
                )
            value.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "=":
            raise SelectorError(
                "unescaped '=' in a value; write it as '\\='",
                text=text,
                position=offset + index,
                kind="field selector",
            )
        else:
            value.append(char)
    if escaped:
        raise SelectorError(
            "the value ends in a lone '\\'; write a backslash as '\\\\'",
            text=text,
            position=offset + len(raw) - 1,
            kind="field selector",
        )
    return "".join(value)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector (``metadata.name=web,status.phase!=Running``).

    Like the API server it knows ``=``, ``==`` and ``!=`` only, and values escape
    ``\\``, ``,`` and ``=`` with a backslash.  Raises :class:`SelectorError`
    naming the input, the position and the problem.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_field_selector takes a str, not {type(text).__name__}")
    requirements: list[FieldRequirement] = []
    for term, start in _field_terms(text):
        if not term:
            continue
        found = next(
            (
                (index, op)
                for index in range(len(term))
                for op in _FIELD_OPERATORS
                if term.startswith(op, index)
            ),
            None,
        )
        if found is None:
            raise SelectorError(
                f"term {term!r} has no operator; expected field=value, field==value or field!=value",
                text=text,
                position=start,
                kind="field selector",
            )
        index, op = found
        field = term[:index]
        if (problem := _field_problem(field)) is not None:
            raise SelectorError(problem, text=text, position=start, kind="field selector")
        value_start = index + len(op)
        value = _unescape_field_value(text, term[value_start:], start + value_start)
        requirements.append(FieldRequirement(field, op, value))
    return FieldSelector(requirements)
