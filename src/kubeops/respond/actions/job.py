"""``createJob``: run a Job from an inline manifest, or from a CronJob's (or Job's)
template as ``kubectl create job --from=cronjob/NAME`` does.

The Job's name is its template's name plus the first characters of the action
id, so a re-run of the same action finds the Job it made (AlreadyExists) instead
of starting a second one.  The Job is labelled with the action id.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeops.errors import AlreadyExists
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import MARK_PREFIX, ActionError, BaseAction
from kubeops.respond.actions.values import Params, Template
from kubeops.respond.event import ObjectRef

__all__ = ["ACTION_LABEL", "CreateJobAction", "CreateJobSettings", "job_name"]

ACTION_LABEL = MARK_PREFIX + "action-id"
# Labels the Job controller sets (a copied Job's must go, or the new one is refused).
_CONTROLLER_LABELS = (
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
)


@dataclass(frozen=True)
class CreateJobSettings:
    """Where, and from what: an inline manifest, or ``kind/name`` of a CronJob or Job."""

    namespace: str
    manifest: Mapping[str, Any] | None
    source_kind: str = ""
    source_name: str = ""


def job_name(base: str, action_id: str) -> str:
    """``<base>-<10 characters of the action id>``, at most 63 characters."""
    suffix = action_id[:10].lower()
    return f"{base[: 63 - len(suffix) - 1].rstrip('-.')}-{suffix}"


def _strip_controller_labels(template: dict[str, Any]) -> None:
    for meta in (
        template.get("metadata"),
        ((template.get("spec") or {}).get("template") or {}).get("metadata"),
    ):
        if isinstance(meta, dict):
            for key in _CONTROLLER_LABELS:
                (meta.get("labels") or {}).pop(key, None)
    spec = template.get("spec") or {}
    spec.pop("selector", None)
    spec.pop("manualSelector", None)


class CreateJobAction(BaseAction[CreateJobSettings]):
    """See the module doc."""

    kind = "createJob"

    def configure(self, params: Params) -> CreateJobSettings:
        """``namespace`` (default: the event's), ``template``: a Job manifest or ``cronjob/NAME``."""
        namespace = params.string("namespace")
        template = params.raw("template", required=True)
        if isinstance(template, Template):
            return CreateJobSettings(namespace, None, "cronjob", "<computed>")
        if isinstance(template, str):
            kind, _, name = template.rpartition("/")
            kind = (kind or "cronjob").lower()
            if kind not in ("cronjob", "cronjobs", "cj", "job", "jobs") or not name:
                raise params.fail(
                    "template",
                    f"name a CronJob or Job as cronjob/NAME or job/NAME, not {template!r}",
                )
            return CreateJobSettings(
                namespace, None, "Job" if kind.startswith("job") else "CronJob", name
            )
        if not isinstance(template, Mapping):
            raise params.fail("template", "must be a Job manifest or cronjob/NAME")
        spec = template.get("spec")
        meta = template.get("metadata") or {}
        if not isinstance(spec, Mapping) or "template" not in spec:
            raise params.fail("template", "a Job manifest needs spec.template")
        if template.get("kind", "Job") != "Job":
            raise params.fail("template.kind", f"must be Job, not {template.get('kind')!r}")
        if not (meta.get("name") or meta.get("generateName")):
            raise params.fail(
                "template.metadata.name", "is required (the Job's name starts with it)"
            )
        return CreateJobSettings(namespace, template)

    def _namespace(self, ctx: ActionContext, settings: CreateJobSettings) -> str:
        subject = ctx.event.subject
        return settings.namespace or (subject.namespace if subject else "") or ctx.client.namespace

    async def _job(self, ctx: ActionContext) -> dict[str, Any]:
        settings = self.settings_for(ctx)
        namespace = self._namespace(ctx, settings)
        owner: dict[str, Any] | None = None
        if settings.manifest is not None:
            job = copy.deepcopy(dict(settings.manifest))
            meta = job.get("metadata") or {}
            base = str(meta.get("name") or meta.get("generateName") or "job").rstrip("-")
        else:
            ref = ObjectRef(settings.source_kind, settings.source_name, namespace)
            resource = "cronjobs.batch" if settings.source_kind == "CronJob" else "jobs.batch"
            source = await self.guard(
                ref, ctx.client.get(resource, settings.source_name, namespace)
            )
            if settings.source_kind == "CronJob":
                job = copy.deepcopy(dict((source.get("spec") or {}).get("jobTemplate") or {}))
                annotations = job.setdefault("metadata", {}).setdefault("annotations", {})
                annotations["cronjob.kubernetes.io/instantiate"] = "manual"
                owner = {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": source["metadata"]["name"],
                    "uid": source["metadata"]["uid"],
                    "controller": True,
                }
            else:
                job = {
                    "metadata": {"labels": dict(source["metadata"].get("labels") or {})},
                    "spec": copy.deepcopy(source.get("spec") or {}),
                }
                _strip_controller_labels(job)
            base = settings.source_name
        meta = job.setdefault("metadata", {})
        meta.pop("generateName", None)
        meta.pop("resourceVersion", None)
        meta.pop("uid", None)
        meta["name"] = job_name(base, ctx.action_id)
        meta["namespace"] = namespace
        meta.setdefault("labels", {})[ACTION_LABEL] = ctx.action_id[:63]
        if owner is not None:
            meta["ownerReferences"] = [owner]
        job["apiVersion"], job["kind"] = "batch/v1", "Job"
        return job

    async def plan(self, ctx: ActionContext) -> Plan:
        """The Job to create (its name from the action id)."""
        job = await self._job(ctx)
        ref = ObjectRef(
            "Job", job["metadata"]["name"], job["metadata"]["namespace"], api_version="batch/v1"
        )
        return self.plan_of(ref, f"create {ref.kind.lower()}/{ref.namespace}/{ref.name}")

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Create it; one already there from this action is success."""
        job = await self._job(ctx)
        ref = ObjectRef(
            "Job", job["metadata"]["name"], job["metadata"]["namespace"], api_version="batch/v1"
        )
        try:
            await self.guard(ref, ctx.client.create(job, dry_run=ctx.dry_run))
        except ActionError as err:
            if isinstance(err.__cause__, AlreadyExists):
                return f"{ref} already created by this action"
            raise
        return f"created {ref}" + (" (dry run)" if ctx.dry_run else "")
