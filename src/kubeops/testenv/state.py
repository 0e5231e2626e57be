"""Reading back the small JSON files testenv keeps, with every field's type checked.

The supervisor's ``DIR/testenv.json`` and a run directory's ``owner.json`` decide
which process is signalled and which socket is dialled, and anyone who can write
the directory can edit them.  A file that is truncated, edited or not testenv's
is one :class:`StateFileError` naming the file, the key and the cause -- never a
crash, and never a guess at a pid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubeops.config.inputs import InputError, read_bounded
from kubeops.config.schema import type_name
from kubeops.testenv.errors import ControlPlaneError

STATE_FILE_LIMIT = 64 * 1024
"""A state file testenv writes is a few hundred bytes."""

# key -> (types allowed, required); ints never accept booleans.
Schema = Mapping[str, tuple[tuple[type, ...], bool]]

SUPERVISOR_STATE: Schema = {
    "pid": ((int,), True),
    "started": ((int, type(None)), False),
    "uid": ((int, type(None)), False),
    "status": ((str,), False),
    "socket": ((str,), False),
    "clusters": ((list,), False),
    "error": ((str, type(None)), False),
}
OWNER_STATE: Schema = {
    "pid": ((int,), True),
    "started": ((int, type(None)), False),
}


class StateFileError(ControlPlaneError):
    """A testenv state file that is not what testenv writes."""


def read_state_file(path: Path, schema: Schema) -> dict[str, Any] | None:
    """The JSON object in ``path`` checked against ``schema``; None when it does not exist.

    Keys the schema does not name are kept as they are (a newer testenv's).
    """
    what = f"testenv state file {path}"
    try:
        data = read_bounded(path, limit=STATE_FILE_LIMIT, what="testenv state file")
    except InputError as err:
        if err.missing:
            return None
        raise StateFileError(f"{err}{_REMEDY}") from None
    try:
        state = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise StateFileError(f"{what}: not UTF-8 text{_REMEDY}") from None
    except json.JSONDecodeError as err:
        raise StateFileError(
            f"{what}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}){_REMEDY}"
        ) from None
    except (ValueError, RecursionError):
        raise StateFileError(f"{what}: not JSON testenv can read{_REMEDY}") from None
    if not isinstance(state, dict):
        raise StateFileError(f"{what}: expected a JSON object, got {type_name(state)}{_REMEDY}")
    for key, (types, required) in schema.items():
        if key not in state:
            if required:
                raise StateFileError(f"{what}: {key} is missing{_REMEDY}")
            continue
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(_NAMES[t] for t in types)
            raise StateFileError(
                f"{what}: {key} must be {expected}, not {type_name(value)}{_REMEDY}"
            )
    if not 0 < state["pid"] < 2**31:
        raise StateFileError(f"{what}: pid {state['pid']} is not a process id{_REMEDY}")
    return state


_REMEDY = " (not as testenv writes it; remove the file if no testenv runs there)"
_NAMES = {int: "an integer", str: "a string", list: "a list", type(None): "null"}


def read_supervisor_state(path: Path) -> dict[str, Any] | None:
    """The supervisor's ``testenv.json``, checked; None when there is none yet."""
    state = read_state_file(path, SUPERVISOR_STATE)
    if state is not None and not all(isinstance(c, str) for c in state.get("clusters", [])):
        raise StateFileError(
            f"testenv state file {path}: clusters must be a list of names{_REMEDY}"
        )
    return state


def read_owner(path: Path) -> dict[str, Any] | None:
    """A run directory's ``owner.json``, checked; None when there is none."""
    return read_state_file(path, OWNER_STATE)
