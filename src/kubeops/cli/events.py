"""``kubeops events``: the events of one object, newest last, as at the bottom of
``kubectl describe`` -- or of a whole namespace, as ``kubectl events`` shows them.

::

    kubeops events pod web-7d9f -n shop      # or pod/web-7d9f
    kubeops events -A -o json
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import age, print_columns, print_objects, run
from kubeops.cli.connection import add_connection_flags

if TYPE_CHECKING:
    from kubeops.api import Client, Object


def register(groups: Any) -> None:
    """Add ``kubeops events`` to the command groups."""
    events = groups.add_parser(
        "events", help="show the events of an object (or of a namespace), newest last"
    )
    events.add_argument("kind", nargs="?", help="kind of the object, or KIND/NAME")
    events.add_argument("name", nargs="?", help="name of the object")
    events.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    add_connection_flags(events, all_namespaces="every namespace's events")
    events.set_defaults(handler=run(_events))


async def _events(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.events import EVENTS, events_for, list_events

    kind, name = args.kind, args.name
    if kind and not name and "/" in kind:
        kind, _, name = kind.rpartition("/")
    if kind and not name:
        raise KubeopsError(
            f"events: name the object: `kubeops events {kind} NAME` or {kind}/NAME "
            "(or give neither, for all events of the namespace)"
        )
    if kind:
        resource = await client.resource(kind)
        items = await events_for(client, resource, name, args.namespace)
        subject = f"{resource.kind.lower()}/{name}"
    else:
        items = await list_events(client, args.namespace, all_namespaces=args.all_namespaces)
        subject = ""
    if args.output != "table":
        print_objects(EVENTS, items, args.output, single=False)
        return 0
    if not items:
        where = f" for {subject}" if subject else ""
        print(f"No events found{where}.", file=sys.stderr)
        return 0
    if subject:
        rows = [["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]]
        rows += [
            [e.get("type") or "", e.get("reason") or "", _age(e), _source(e), _message(e)]
            for e in items
        ]
    else:
        rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
        if args.all_namespaces:
            rows[0].insert(0, "NAMESPACE")
        for e in items:
            row = [_last_seen(e), e.get("type") or "", e.get("reason") or "", _object(e)]
            row.append(_message(e))
            if args.all_namespaces:
                row.insert(0, e.get("metadata", {}).get("namespace", ""))
            rows.append(row)
    print_columns(rows)
    return 0


def _last_seen(event: Object) -> str:
    from kubeops.ops.events import event_time

    moment = event_time(event)
    return age(moment.isoformat()) if moment else "<unknown>"


def _age(event: Object) -> str:
    """kubectl describe's age: ``2m``, or ``30s (x4 over 2m)`` for a repeated event."""
    last = _last_seen(event)
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    first = event.get("firstTimestamp") or event.get("eventTime")
    if int(count) > 1 and first:
        return f"{last} (x{count} over {age(str(first))})"
    return last


def _source(event: Object) -> str:
    from kubeops.ops.events import event_source

    return event_source(event) or "<unknown>"


def _object(event: Object) -> str:
    involved = event.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _message(event: Object) -> str:
    return " ".join(str(event.get("message") or "").split())
