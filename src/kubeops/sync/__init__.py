"""Multi-cluster sync: ``ClusterSyncPolicy`` objects keep resources consistent across clusters.

The guide's four parts, one module each: the source's event watcher and every
cluster's state store (:mod:`~kubeops.sync.store`), the pure diff engine that
turns desired against actual into operations (:mod:`~kubeops.sync.desired`,
:mod:`~kubeops.sync.diff`), and the executor that applies them per target
(:mod:`~kubeops.sync.executor`).  The push controller (:mod:`~kubeops.sync.engine`)
runs them on a hub; the pull agent (:mod:`~kubeops.sync.agent`) runs beside a
member the hub cannot reach.
"""
