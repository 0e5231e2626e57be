"""kubeops' own CEL functions for content integrity; not in Kubernetes' CEL.

``sha256(canonical(object.data))`` is the digest of a ConfigMap's data that a
rule compares with a recorded one (the guide's "file integrity changed"):
``canonical`` writes any JSON value as JSON with sorted keys and no spaces, so
the same content always gives the same text, and ``sha256`` its lowercase hex
digest.  Policies meant for the API server (issue 14) should not use them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

__all__ = ["canonical", "declarations", "sha256"]


def canonical(value: object) -> str:
    """``value`` as canonical JSON: sorted keys, ``,`` and ``:`` separators, text unescaped."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"canonical: not a JSON value: {error}") from None


def sha256(data: str | bytes | bytearray) -> str:
    """The SHA-256 digest of ``data`` (text as UTF-8), in lowercase hex."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return hashlib.sha256(raw).hexdigest()


def declarations() -> list[Any]:
    """The functions, declared for cel-expr-python (one overload per JSON kind for canonical)."""
    t = cel.Type
    kinds = {
        "map": t.Map(t.DYN, t.DYN),
        "list": t.List(t.DYN),
        "string": t.STRING,
        "int": t.INT,
        "uint": t.UINT,
        "double": t.DOUBLE,
        "bool": t.BOOL,
        "null": t.NULL,
    }
    return [
        cel.FunctionDecl(
            "canonical",
            [
                cel.Overload(f"canonical_{k}", t.STRING, [kind], impl=canonical)
                for k, kind in kinds.items()
            ],
        ),
        cel.FunctionDecl(
            "sha256",
            [
                cel.Overload("sha256_string", t.STRING, [t.STRING], impl=sha256),
                cel.Overload("sha256_bytes", t.STRING, [t.BYTES], impl=sha256),
            ],
        ),
    ]
