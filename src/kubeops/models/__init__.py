"""Static types for built-in kinds, and the value helpers they need.

Objects stay the JSON dicts the API server sends; this package gives them
types and supplies the values Kubernetes defines beyond JSON: resource
quantities (:class:`Quantity`) and label and field selectors
(:class:`Selector`, :class:`FieldSelector`), which parse, compare and print
exactly as the API server does; durations as Go and kubectl write them
(:func:`parse_duration`, :func:`format_duration`), kubectl's JSONPath
(:class:`JSONPath`); and container image references (:class:`ImageReference`),
normalised as the container runtime resolves them.
"""

from kubeops.models.duration import DurationError, format_age, format_duration, parse_duration
from kubeops.models.image import DOCKER_HUB, ImageReference, ImageReferenceError
from kubeops.models.jsonpath import JSONPath, JSONPathError, jsonpath_find, jsonpath_text
from kubeops.models.quantity import (
    Quantity,
    QuantityError,
    QuantityFormat,
    bytes_,
    cpu_cores,
    parse_quantity,
)
from kubeops.models.selector import (
    FieldRequirement,
    FieldSelector,
    Operator,
    Requirement,
    Selector,
    SelectorError,
    parse_field_selector,
    parse_selector,
)

__all__ = [
    "DOCKER_HUB",
    "DurationError",
    "FieldRequirement",
    "FieldSelector",
    "ImageReference",
    "ImageReferenceError",
    "JSONPath",
    "JSONPathError",
    "Operator",
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "Requirement",
    "Selector",
    "SelectorError",
    "bytes_",
    "cpu_cores",
    "format_age",
    "format_duration",
    "jsonpath_find",
    "jsonpath_text",
    "parse_duration",
    "parse_field_selector",
    "parse_quantity",
    "parse_selector",
]
