"""``kubeops policy webhook``: the admission webhook daemon.

It has the shape of every kubeops daemon (``respond run``, ``sync run``): one
:class:`~kubeops.controller.serving.SecurePort` with ``/healthz``, ``/livez``,
``/readyz`` and ``/metrics``, text or JSON logs, a graceful stop on SIGTERM --
plus ``POST /validate``, the AdmissionReview endpoint, always over TLS and open to
the API server whatever ``--auth`` protects.

Every replica serves reviews (a webhook needs no leader to answer).  Writing the
ValidatingWebhookConfiguration is the one thing done by a single replica: with a
Lease, its holder; without, the replica itself.  On SIGTERM the port reports
not ready, the configuration is removed first when asked (so a fail-closed
webhook never refuses requests because it went away), the reviews in flight are
answered, and only then does the port close.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kubeops.config.redact import error_line
from kubeops.controller.serving.collector import freeze_start_up
from kubeops.policy.model import FailurePolicy
from kubeops.policy.webhook.answer import InvalidReview, request_of
from kubeops.policy.webhook.certs import GeneratedTLS, SharedCA
from kubeops.policy.webhook.metrics import WebhookMetrics
from kubeops.policy.webhook.options import WebhookError, WebhookOptions
from kubeops.policy.webhook.registration import admission_rules, register, unregister
from kubeops.policy.webhook.reviewer import Reviewer

if TYPE_CHECKING:
    from aiohttp import web

    from kubeops.api import Client
    from kubeops.controller.serving import SecurePort
    from kubeops.policy.cluster import ClusterContext
    from kubeops.policy.loader import PolicySet

LOG = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024
"""An AdmissionReview holds an object and its old version (each up to etcd's 1.5 MiB)."""
VALIDATE = "/validate"
RELOAD_INTERVAL = 1.0
"""Seconds between looks at given certificate files (a stat each)."""


class WebhookDaemon:
    """One replica: the reviews, the probes, and -- when it is the registrant -- the
    configuration and its caBundle."""

    def __init__(
        self,
        options: WebhookOptions,
        client: Client,
        policies: PolicySet,
        *,
        context: ClusterContext | None = None,
    ) -> None:
        from kubeops.controller.leader_election import default_identity
        from kubeops.policy.cluster import ClusterContext

        options.check()
        self.options = options
        self.client = client
        self.policies = policies
        self.identity = options.identity or default_identity()
        self.metrics = WebhookMetrics()
        self.context = context or ClusterContext(client, static=policies.objects)
        self._scratch: str | None = None
        self.tls: GeneratedTLS | None = None
        self._port: SecurePort | None = None
        if not options.ca_secret:  # else the shared CA is read first, in run()
            self._build_port(None)
        self.reviewer = Reviewer(
            policies.policies,
            self.context,
            deadline=options.deadline,
            failure_policy=FailurePolicy.FAIL if options.fail_closed else FailurePolicy.IGNORE,
            workers=options.workers,
            max_in_flight=options.max_in_flight,
            metrics=self.metrics,
        )
        self.rules = admission_rules(policies.policies)
        self.registrant = options.lease is None
        self.registered = False
        self.draining = False
        self.synced = False
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()

    def _build_port(self, shared: SharedCA | None) -> None:
        """The HTTPS port, over generated certificates (from ``shared`` when given) or
        the given ones."""
        from kubeops.controller.serving import ALWAYS_ALLOW, SecurePort

        options = self.options
        serving = options.serving
        if options.generated:
            self.tls = GeneratedTLS(
                Path(options.cert_dir or self._scratch_dir()),
                options.certificate_hosts(),
                validity=options.cert_validity,
                ca_validity=options.ca_validity,
                renew_fraction=options.renew_fraction,
                shared=shared,
            )
            serving = replace(
                serving, tls_cert_file=self.tls.cert_file, tls_key_file=self.tls.key_file
            )
        # --auth kubernetes reviews /metrics callers through the daemon's own client.
        self._port = SecurePort(
            replace(serving, always_allow=(*ALWAYS_ALLOW, VALIDATE)), self.client
        )
        self._set_expiry()

    @property
    def port(self) -> SecurePort:
        """The daemon's HTTPS port (built once the CA is known)."""
        if self._port is None:
            raise WebhookError("the webhook's port is built when it runs (--ca-secret)")
        return self._port

    def _scratch_dir(self) -> str:
        self._scratch = tempfile.mkdtemp(prefix="kubeops-webhook-")
        return self._scratch

    # -- status -------------------------------------------------------------------------------

    @property
    def ca_bundle(self) -> bytes:
        """What the API server must trust: the generated CAs, or ``--ca-file`` (else the
        serving certificate itself, enough for a self-signed one)."""
        if self.tls is not None:
            return self.tls.ca_bundle
        path = self.options.ca_file or self.port.options.tls_cert_file
        assert path is not None
        return Path(path).read_bytes()

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        expiry = self._expiry()
        return {
            "status": "draining" if self.draining else "ok",
            "identity": self.identity,
            "policies": len(self.policies),
            "engines": self.policies.engines(),
            "synced": self.synced,
            "registrant": self.registrant,
            "registered": self.registered,
            "inFlight": self.reviewer.in_flight,
            "certificateExpires": expiry.isoformat() if expiry is not None else None,
        }

    def ready(self) -> tuple[bool, str]:
        """Ready once the caches have their lists, until the stop begins."""
        if self.draining:
            return False, "draining"
        if not self.synced:
            return False, "waiting for the caches to sync"
        return True, "serving"

    def _expiry(self) -> datetime.datetime | None:
        if self.tls is not None:
            return self.tls.not_after
        from cryptography import x509

        if self._port is None:
            return None
        path = self._port.options.tls_cert_file
        try:
            return x509.load_pem_x509_certificate(Path(str(path)).read_bytes()).not_valid_after_utc
        except (OSError, ValueError):
            return None

    def _set_expiry(self) -> None:
        expiry = self._expiry()
        if expiry is not None:
            self.metrics.cert_expiry.set(expiry.timestamp())

    # -- HTTP ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The port's routes: ``POST /validate``, probes and metrics."""
        from aiohttp import web

        from kubeops.controller.serving import add_probe_routes

        app = self.port.application(client_max_size=MAX_BODY)
        app.router.add_post(VALIDATE, self.validate)
        add_probe_routes(app, self.status, self.ready, self.metrics.registry)
        assert isinstance(app, web.Application)
        return app

    async def validate(self, request: web.Request) -> web.StreamResponse:
        """One AdmissionReview in, its answer out."""
        from aiohttp import web

        from kubeops.controller.serving import plain

        body = await request.read()
        try:
            admission = request_of(orjson.loads(body))
        except (orjson.JSONDecodeError, InvalidReview) as err:
            self.metrics.reviews.labels("invalid").inc()
            return plain(400, f"not an AdmissionReview: {err}")
        try:
            answer = await self.reviewer.review(admission, len(body))
        except Exception as err:  # a bug here must still answer, by the failure mode
            LOG.error("review failed: %s", error_line(err))
            answer = self.reviewer.undecided(str(admission.get("uid")), error_line(err))
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    # -- running ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop``; then drain and close (see the module's docstring)."""
        from kubeops.controller.serving.signals import run_until_stopped

        self._stopping = stop
        if self._port is None:
            self._build_port(await self._shared_ca())
        try:
            await self.port.start(self.app(), reload_interval=RELOAD_INTERVAL)
            for warning in self.port.warnings:
                LOG.warning("%s", warning)
            LOG.info(
                "policy webhook serving https://%s:%d%s (%d policies; deadline %.1fs of %ds; "
                "fail-%s)",
                self.port.options.host,
                self.port.port,
                VALIDATE,
                len(self.policies),
                self.options.deadline,
                self.options.timeout_seconds,
                "closed" if self.options.fail_closed else "open",
            )
            await run_until_stopped(self._work(), stop)
        finally:
            await self._shut_down()

    async def _work(self) -> None:
        await asyncio.gather(*self._tasks())

    def _tasks(self) -> list[Any]:
        tasks: list[Any] = [self._sync()]
        if self.tls is not None:
            tasks.append(self._renew(self.tls))
        else:
            tasks.append(self._watch_given())
        if self.options.register:
            tasks.append(self._registration())
        return tasks

    async def _sync(self) -> None:
        """Fill the caches and warm every worker thread, then say ready (and let the
        registration go ahead): a review before that would wait for a list."""
        started = time.monotonic()
        synced = await self.context.start()
        while not synced:
            await asyncio.sleep(1.0)
            synced = self.context.synced()
        await self.reviewer.warm_up()
        freeze_start_up()
        self.synced = True
        self._ready.set()
        LOG.info("caches synced and workers warm in %.2fs: ready", time.monotonic() - started)
        await asyncio.Event().wait()

    async def _shared_ca(self) -> SharedCA:
        from kubeops.policy.webhook import shared_ca

        assert self.options.ca_secret is not None
        return await shared_ca.load_or_create(
            self.client,
            self.options.namespace,
            self.options.ca_secret,
            ca_validity=self.options.ca_validity,
        )

    async def _advance_shared_ca(self, tls: GeneratedTLS) -> bool:
        """With ``--ca-secret``: the registrant advances the shared CA, every replica
        takes its state; True when the bundle changed."""
        from kubeops.policy.webhook import shared_ca

        secret = self.options.ca_secret
        if secret is None:
            return False
        namespace = self.options.namespace
        if self.registrant:
            state = await shared_ca.advance(
                self.client,
                namespace,
                secret,
                lifetime=self.options.cert_validity,
                ca_validity=self.options.ca_validity,
            )
        else:
            state = await shared_ca.read(self.client, namespace, secret)
        return tls.adopt(state)

    async def _renew(self, tls: GeneratedTLS) -> None:
        """Reissue the serving certificate before it expires; each new handshake
        presents the new one at once."""
        while True:
            await asyncio.sleep(tls.renew_in())
            try:
                bundle_changed = await self._advance_shared_ca(tls)
                bundle_changed = tls.renew() or bundle_changed
                if bundle_changed and self.registrant and self.options.register:
                    await self._register()
            except Exception as err:  # keep serving the old pair; try again soon
                LOG.error("serving certificate not renewed: %s", error_line(err))
                await asyncio.sleep(min(30.0, tls.validity / 10))
                continue
            certificate = self.port.certificate
            if certificate is not None:
                certificate.refresh()
            self.metrics.cert_renewals.inc()
            self._set_expiry()
            LOG.info("serving certificate renewed; expires %s", tls.not_after.isoformat())

    async def _watch_given(self) -> None:
        """Given certificates: the port re-reads the pair itself; a new CA file (or a new
        self-signed certificate) is registered again, and the expiry metric follows."""
        published = self.ca_bundle
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            self._set_expiry()
            try:
                bundle = self.ca_bundle
            except OSError as err:
                LOG.warning("cannot read the CA bundle: %s", error_line(err))
                continue
            if bundle != published and self.registrant and self.registered:
                try:
                    await self._register()
                except Exception as err:
                    LOG.error("cannot register the new CA bundle: %s", error_line(err))
                    continue
            published = bundle

    async def _registration(self) -> None:
        await self._ready.wait()  # the API server's first reviews must not wait for a list
        if self.options.lease is None:
            await self._register_until_done()
            await asyncio.Event().wait()
        await self._elected()

    async def _register_until_done(self) -> None:
        pause = 0.5
        while True:
            try:
                await self._register()
                return
            except Exception as err:
                LOG.error("cannot register the webhook: %s", error_line(err))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)

    async def _register(self) -> None:
        await register(self.client, self.options.registration(), self.ca_bundle, self.rules)
        self.registered = True
        LOG.info(
            "registered ValidatingWebhookConfiguration %s (%d rules, failurePolicy %s)",
            self.options.configuration,
            len(self.rules),
            "Fail" if self.options.fail_closed else "Ignore",
        )

    async def _elected(self) -> None:
        from kubeops.controller.elected import stand_for_election

        lease = self.options.lease
        assert lease is not None

        async def lead(stopped: asyncio.Event) -> None:
            self.registrant = True
            try:
                await self._register_until_done()
                await stopped.wait()
            finally:
                if not self._stopping.is_set():  # lost the Lease: another replica writes it
                    self.registrant = False
                    self.registered = False

        config = lease.config(self.identity, lead, lambda holder: None)
        await stand_for_election(self.client, config)

    async def _shut_down(self) -> None:
        self.draining = True
        if self.options.unregister_on_exit and self.registered:
            try:
                await unregister(self.client, self.options.configuration)
                LOG.info("removed ValidatingWebhookConfiguration %s", self.options.configuration)
            except Exception as err:
                LOG.error("cannot remove the webhook configuration: %s", error_line(err))
        if self.options.shutdown_delay:
            await asyncio.sleep(self.options.shutdown_delay)
        ends = time.monotonic() + self.options.deadline + 1.0
        while self.reviewer.in_flight and time.monotonic() < ends:
            await asyncio.sleep(0.05)
        await self.port.stop()
        self.reviewer.close()
        with contextlib.suppress(Exception):
            await self.context.stop()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        LOG.info("stopped")


def check_policies(options: WebhookOptions) -> PolicySet:
    """Load the policy set the options name (a PolicyLoadError lists every problem)."""
    from kubeops.policy.loader import load_policies
    from kubeops.policy.scan import load_scan

    options.check()
    scans = [load_scan(path) for path in options.scans]
    return load_policies(options.policy_paths, scans=scans, builtins_by_default=options.builtins)


async def run(
    options: WebhookOptions, stop: asyncio.Event | None = None, policies: PolicySet | None = None
) -> int:
    """Load the policies (unless given), connect and serve until ``stop``; problems raise
    before anything listens."""
    from kubeops.api import Client
    from kubeops.config import load_config

    policies = policies if policies is not None else check_policies(options)
    stop = stop or asyncio.Event()
    config = load_config(options.kubeconfig, context=options.context)
    async with Client(config) as client:
        daemon = WebhookDaemon(options, client, policies)
        await daemon.run(stop)
    return 0
