"""Fuzzing the YAML documents users hand kubeops: manifests for ``apply -f`` (the file
path ``load_manifests`` takes) and the inspection's ``--config``.

Object- and config-shaped trees with wrong types and hostile values, rendered with
anchors, aliases, odd tags, deep nesting and alias bombs, several documents per
stream, and mutated at the byte level.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fuzz.harness import fuzz, only_typed_errors, workdir
from fuzz.strategies import hostile_text, sometimes, trees, utf8_text, yaml_documents
from kubeops.api.manifest import dependency_order, load_manifests
from kubeops.inspect.catalog import catalog
from kubeops.inspect.config import load_inspect_config

_KINDS = st.sampled_from(
    [
        "Pod",
        "ConfigMap",
        "List",
        "PodList",
        "v1/List",
        "CustomResourceDefinition",
        "Namespace",
        "",
        "list",
    ]
)
_METADATA = st.fixed_dictionaries(
    {},
    optional={
        "name": sometimes(
            st.sampled_from(["web", "", "a" * 300, "Bad_Name"]) | utf8_text(15),
            st.integers() | st.none() | st.booleans(),
        ),
        "generateName": sometimes(st.just("web-")),
        "namespace": sometimes(st.sampled_from(["default", "", "x"])),
        "labels": sometimes(st.dictionaries(utf8_text(10), utf8_text(10), max_size=3)),
    },
)


def _objects(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "apiVersion": sometimes(st.sampled_from(["v1", "apps/v1", "", "a/b/c"])),
            "kind": sometimes(_KINDS),
        },
        optional={
            "metadata": sometimes(_METADATA),
            "spec": trees(max_leaves=8),
            "data": sometimes(st.dictionaries(utf8_text(10), utf8_text(20), max_size=3)),
            "items": sometimes(st.lists(items, max_size=3)),
        },
    )


manifest_objects = st.recursive(_objects(st.none()), _objects, max_leaves=6)


@fuzz(yaml_documents(sometimes(manifest_objects)), weight=6)
def test_manifests(text: bytes) -> None:
    """Any manifest file loads into objects or is refused with one line naming it."""
    path = workdir() / "manifest.yaml"
    path.write_bytes(text)
    manifests = only_typed_errors(load_manifests, [path])
    for manifest in dependency_order(manifests or []):
        manifest.describe()
        assert manifest.where


def _check_entries() -> st.SearchStrategy[Any]:
    known = catalog()
    ids = st.sampled_from([*sorted(known), "no-such-check", "container-restart"])

    def entry(check_id: str) -> st.SearchStrategy[Any]:
        defaults = known[check_id].thresholds if check_id in known else {"x": 1}
        names = st.sampled_from([*defaults, "unknown"])
        values = st.one_of(
            st.integers(-(2**70), 2**70),
            st.sampled_from(
                [True, False, None, -5, 0, 1.5, float("nan"), float("inf"), "5", "cpu,memory", []]
            ),
            st.lists(utf8_text(10), max_size=3),
        )
        return st.fixed_dictionaries(
            {},
            optional={
                "enabled": sometimes(st.booleans()),
                "severity": sometimes(
                    st.sampled_from(["info", "warning", "ERROR", "critical", "fatal", ""])
                ),
                "thresholds": sometimes(st.dictionaries(names, values, max_size=3)),
                "unknown": st.just(1),
            },
        )

    return sometimes(
        st.lists(ids.flatmap(lambda i: st.tuples(st.just(i), sometimes(entry(i)))), max_size=3).map(
            dict
        )
    )


_GLOBS = sometimes(
    st.lists(st.sampled_from(["*", "sec-*", "[", "kube-system", ""]) | utf8_text(10), max_size=3),
    utf8_text(10),
)
_EXCLUDE = st.fixed_dictionaries(
    {},
    optional={
        "checks": _GLOBS,
        "namespaces": _GLOBS,
        "names": _GLOBS,
        "kinds": _GLOBS,
        "labels": sometimes(
            st.sampled_from(["tier=batch", "a in (b", "!x", "", "a=b,c!=d"]) | hostile_text(20)
        ),
        "reason": sometimes(utf8_text(20)),
        "other": st.just(1),
    },
)

inspect_configs = st.fixed_dictionaries(
    {},
    optional={
        "checks": _check_entries(),
        "settings": sometimes(
            st.dictionaries(
                st.sampled_from(["allowed_registries", "other"]),
                sometimes(st.lists(utf8_text(15), max_size=3)),
                max_size=2,
            )
        ),
        "excludes": sometimes(st.lists(sometimes(_EXCLUDE), max_size=3)),
        "extra": st.just(1),
    },
)

_OBJECT = {
    "kind": "Pod",
    "metadata": {"name": "debug-1", "namespace": "kube-system", "labels": {"tier": "batch"}},
}


@fuzz(yaml_documents(sometimes(inspect_configs)), weight=4)
def test_inspect_config(text: bytes) -> None:
    """Any inspect ``--config`` loads into a validated configuration or is refused."""
    path = workdir() / "inspect.yaml"
    path.write_bytes(text)
    config = only_typed_errors(load_inspect_config, path)
    if config is None:
        return
    known = catalog()
    for check_id, entry in config.checks.items():
        defaults = known[check_id].thresholds
        for name, value in entry.thresholds.items():
            default = defaults[name]
            # A threshold has the type of its default: `restarts: true` is refused.
            assert isinstance(value, bool) == isinstance(default, bool), (check_id, name, value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert value >= 0, (check_id, name, value)
    for check_id in list(known)[:5]:
        config.enabled(check_id)
        config.excluded(check_id, _OBJECT)
        config.thresholds(check_id, known[check_id].thresholds)
