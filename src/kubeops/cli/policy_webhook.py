"""``kubeops policy webhook``: serve a policy directory as a ValidatingAdmissionWebhook.

::

    kubeops policy webhook policies/ --register --url https://10.0.0.5:8443/validate
    kubeops policy webhook /policies --listen :8443 --allow-unauthenticated \\
        --register --service kubeops-system/kubeops-policy:443 --leader-elect --fail-open

``kubeops policy`` (:mod:`kubeops.cli.policy`) adds it with :func:`register`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from kubeops.cli.connection import add_connection_flags, complete

DEFAULT_LISTEN = "127.0.0.1:8443"


def register(commands: Any) -> None:
    """Add ``webhook`` to the ``kubeops policy`` sub-commands."""
    from kubeops.cli.inspect_serve import add_serving_flags

    parser = commands.add_parser(
        "webhook",
        help="serve the policies as a validating admission webhook (TLS, /metrics, /healthz)",
        description="Answer the API server's AdmissionReviews with the policies under PATH: "
        "a Deny refuses the request with the policy's message, a Warn reaches the client as "
        "a warning, an Audit is logged, counted and returned as an audit annotation.  Each "
        "review is answered within its deadline; a policy too slow for it is judged by its "
        "failurePolicy.  Certificates are generated and renewed unless given.",
    )
    from kubeops.cli.policy import add_builtins_flag

    parser.add_argument("paths", nargs="*", metavar="PATH", help="policy files or directories")
    parser.add_argument(
        "--policies",
        dest="policies",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="policy files or directories (as `kubeops policy test` takes them)",
    )
    parser.add_argument(
        "--scan",
        dest="scans",
        action="append",
        default=[],
        metavar="FILE",
        help="a Trivy or Grype JSON report for the built-in vulnerability gate (repeatable)",
    )
    add_builtins_flag(parser)
    add_connection_flags(parser)
    decide = parser.add_argument_group("deciding")
    decide.add_argument(
        "--timeout",
        type=int,
        default=10,
        metavar="SECONDS",
        help="the configuration's timeoutSeconds, 1-30 (default: 10)",
    )
    decide.add_argument(
        "--deadline-fraction",
        type=float,
        default=0.8,
        metavar="F",
        help="answer within this part of --timeout (default: 0.8)",
    )
    mode = decide.add_mutually_exclusive_group()
    mode.add_argument(
        "--fail-closed",
        dest="fail_open",
        action="store_false",
        default=False,
        help="refuse what cannot be decided in time, and register failurePolicy Fail (default)",
    )
    mode.add_argument(
        "--fail-open",
        dest="fail_open",
        action="store_true",
        default=False,
        help="allow what cannot be decided in time, and register failurePolicy Ignore",
    )
    decide.add_argument("--workers", type=int, default=4, help="evaluation threads (default: 4)")
    decide.add_argument(
        "--max-in-flight", type=int, default=64, help="reviews evaluated at once (default: 64)"
    )
    tls = parser.add_argument_group("certificates (generated unless --tls-cert-file is given)")
    tls.add_argument(
        "--cert-dir",
        metavar="DIR",
        help="keep the generated CA and serving pair here (default: a private temporary "
        "directory; a kept CA survives restarts, so the registered caBundle stays valid)",
    )
    tls.add_argument(
        "--host",
        dest="hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="another DNS name or IP address for the generated certificate (repeatable)",
    )
    tls.add_argument(
        "--cert-validity",
        default="24h",
        metavar="DURATION",
        help="lifetime of a generated serving certificate; renewed after 2/3 (default: 24h)",
    )
    tls.add_argument(
        "--ca-validity", default="365d", metavar="DURATION", help="of the CA (default: 365d)"
    )
    tls.add_argument(
        "--ca-secret",
        metavar="NAME",
        help="keep the generated CA in this Secret of the webhook namespace, shared by every "
        "replica (each issues its own serving certificate; the Lease holder renews the CA)",
    )
    tls.add_argument(
        "--ca-file",
        metavar="PATH",
        help="with --tls-cert-file: the CA registered as caBundle (default: the certificate)",
    )
    reg = parser.add_argument_group("registration")
    reg.add_argument(
        "--register", action="store_true", help="create the ValidatingWebhookConfiguration"
    )
    reg.add_argument(
        "--unregister-on-exit", action="store_true", help="delete it again when stopped"
    )
    reg.add_argument(
        "--configuration-name",
        default="kubeops-policy",
        metavar="NAME",
        help="its name (default: kubeops-policy)",
    )
    reg.add_argument(
        "--url", metavar="URL", help="where the API server calls (out of cluster): https://..."
    )
    reg.add_argument(
        "--service",
        metavar="NAMESPACE/NAME[:PORT]",
        help="the Service the API server calls (in cluster; port 443 by default)",
    )
    reg.add_argument(
        "--webhook-namespace",
        metavar="NAMESPACE",
        help="the webhook's own namespace, never sent to it (default: $POD_NAMESPACE, "
        "else kubeops-system); kube-system and kube-node-lease are never sent either",
    )
    reg.add_argument(
        "--namespace-selector",
        metavar="SELECTOR",
        help="only namespaces whose labels match this selector, e.g. policy=enforced",
    )
    lead = parser.add_argument_group(
        "leader election (only the registrant writes the configuration)"
    )
    lead.add_argument("--leader-elect", action="store_true", help="register from the Lease holder")
    lead.add_argument("--lease-name", default="kubeops-policy-webhook")
    lead.add_argument("--lease-namespace", help="default: the webhook namespace")
    lead.add_argument("--lease-duration", default="15s", metavar="DURATION")
    lead.add_argument("--identity", metavar="NAME", help="this replica's name in the Lease")
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"default: {DEFAULT_LISTEN}; :PORT for every interface (needs --auth or "
        "--allow-unauthenticated for /metrics; /validate is always open to the API server)",
    )
    parser.add_argument(
        "--shutdown-delay",
        default="0s",
        metavar="DURATION",
        help="on SIGTERM, keep answering this long before draining (endpoints to update)",
    )
    add_serving_flags(parser)
    from kubeops.cli.policy import policy_errors

    parser.set_defaults(handler=policy_errors(_run))


def options_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~kubeops.policy.webhook.WebhookOptions` the flags describe."""
    from dataclasses import replace

    from kubeops.cli.inspect_serve import serving_options
    from kubeops.controller.elected import LeaseSettings
    from kubeops.controller.serving import ServingError, parse_listen
    from kubeops.models import DurationError, Selector, parse_duration
    from kubeops.models.selector import SelectorError
    from kubeops.policy.webhook import ServiceRef, WebhookError, WebhookOptions

    complete(args)

    def duration(flag: str, text: str) -> float:
        try:
            return parse_duration(text, positive=flag != "--shutdown-delay")
        except DurationError as err:
            raise WebhookError(f"{flag}: {err}") from None

    try:
        host, port = parse_listen(args.listen)
    except ServingError as err:
        raise WebhookError(str(err)) from None
    namespace = args.webhook_namespace or os.environ.get("POD_NAMESPACE") or "kubeops-system"
    selector: dict[str, Any] = {}
    if args.namespace_selector:
        try:
            selector = Selector.parse(args.namespace_selector).to_label_selector()
        except SelectorError as err:
            raise WebhookError(f"--namespace-selector: {err}") from None
    lease = None
    if args.leader_elect:
        lease = LeaseSettings.for_duration(
            args.lease_name,
            args.lease_namespace or namespace,
            duration("--lease-duration", args.lease_duration),
        )
    contexts = getattr(args, "contexts", None) or []
    return WebhookOptions(
        policy_paths=(*args.paths, *args.policies),
        scans=tuple(args.scans),
        serving=replace(serving_options(args), host=host, port=port),
        kubeconfig=args.kubeconfig,
        context=contexts[-1] if contexts else None,
        builtins=not args.no_builtins,
        timeout_seconds=args.timeout,
        deadline_fraction=args.deadline_fraction,
        fail_closed=not args.fail_open,
        workers=args.workers,
        max_in_flight=args.max_in_flight,
        cert_dir=args.cert_dir,
        hosts=tuple(args.hosts),
        cert_validity=duration("--cert-validity", args.cert_validity),
        ca_validity=duration("--ca-validity", args.ca_validity),
        ca_file=args.ca_file,
        ca_secret=args.ca_secret,
        register=args.register,
        unregister_on_exit=args.unregister_on_exit,
        configuration=args.configuration_name,
        url=args.url,
        service=_service(args.service, ServiceRef, WebhookError) if args.service else None,
        namespace=namespace,
        namespace_selector=selector,
        lease=lease,
        identity=args.identity,
        shutdown_delay=duration("--shutdown-delay", args.shutdown_delay),
        json_logs=args.log_format == "json",
    )


def _service(text: str, service_ref: Any, error: Any) -> Any:
    namespace, slash, rest = text.partition("/")
    name, colon, port = rest.partition(":")
    if not slash or not namespace or not name or (colon and not port.isdigit()):
        raise error(f"--service {text!r}: expected NAMESPACE/NAME or NAMESPACE/NAME:PORT")
    return service_ref(namespace, name, int(port) if colon else 443)


def _run(args: argparse.Namespace) -> int:
    from kubeops.controller.serving import configure_daemon, run_until_signalled
    from kubeops.policy.webhook import check_policies, run

    options = options_from_args(args)
    options.check()
    policies = check_policies(options)  # a policy that cannot be loaded: a line per problem
    configure_daemon(
        args.log_format,
        args.log_level,
        ("kubeops.policy", "kubeops.controller"),
        "kubeops-policy-webhook",
    )
    return run_until_signalled(lambda stop: run(options, stop, policies))
