"""The root of every error kubeops raises on purpose.

The CLI prints a :class:`KubeopsError` as one readable line; anything else
escaping is a bug and keeps its traceback.
"""


class KubeopsError(Exception):
    """An error a user can cause or fix: it names the object, the operation and the cause."""
