"""Static types for built-in kinds, and the value helpers they need.

Objects stay the JSON dicts the API server sends; this package gives them
types and supplies the values Kubernetes defines beyond JSON: resource
quantities (:class:`Quantity`) and label and field selectors
(:class:`Selector`, :class:`FieldSelector`), which parse, compare and print
exactly as the API server does.
"""

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
    "FieldRequirement",
    "FieldSelector",
    "Operator",
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "Requirement",
    "Selector",
    "SelectorError",
    "bytes_",
    "cpu_cores",
    "parse_field_selector",
    "parse_quantity",
    "parse_selector",
]
