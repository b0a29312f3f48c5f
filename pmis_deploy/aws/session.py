"""boto3 clients for one environment: endpoint, retries, call counting and the dry-run guard.

    aws = AwsClients.for_settings(settings, dry_run=True)
    aws.client("ecs").describe_services(...)     # reads pass
    aws.client("ecs").update_service(...)        # raises DryRunViolation before any request is sent

The guard is a botocore `before-call` hook on every client this factory makes, so a planning code path
cannot mutate anything by accident. `calls` counts API calls by service (benchmarks, "no changes").
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmis_deploy.errors import DryRunViolation

if TYPE_CHECKING:
    from pmis_deploy.config import Settings

# Operations that only read. Anything else is mutating and refused in dry-run.
READ_ONLY = re.compile(r"^(Describe|List|Get|Batch(Get|Check)|Head|Lookup|Search|Validate|Preview|Test|Filter)")
# Reads whose names do not say so.
READ_ONLY_EXTRA = {"GetAuthorizationToken", "GetCallerIdentity", "GetRandomPassword"}


def is_read_only(operation: str) -> bool:
    return bool(READ_ONLY.match(operation)) or operation in READ_ONLY_EXTRA


@dataclass
class AwsClients:
    """A cache of boto3 clients sharing one session, one config and one set of hooks."""

    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    dry_run: bool = False
    calls: Counter[str] = field(default_factory=Counter)  # "ecs:UpdateService" → n
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _session: Any = field(default=None, repr=False)

    @classmethod
    def for_settings(cls, settings: Settings, *, dry_run: bool = False) -> AwsClients:
        """Clients for the environment: for `endpoint_url = "embedded"` the standard AWS_ENDPOINT_URL if
        set, else the embedded emulator; else the configured URL, else AWS_ENDPOINT_URL / real AWS."""
        endpoint = settings.aws.endpoint_url
        if endpoint == "embedded":  # the standard AWS_ENDPOINT_URL (your LocalStack/moto) wins over the emulator
            endpoint = endpoint_from_environment()
            if endpoint is None:
                from pmis_deploy.emulators.aws import ensure_running

                endpoint = ensure_running(settings)
        return cls(region=settings.aws.region, endpoint_url=endpoint, profile=settings.aws.profile, dry_run=dry_run)

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(
                botocore_session=_botocore_session(self.profile), region_name=self.region
            )
        return self._session

    def client(self, service: str) -> Any:
        """The (cached, thread-safe to share) client for `service`."""
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "max_attempts": 8},
                    connect_timeout=10,
                    read_timeout=70,
                    max_pool_connections=20,
                )
                kwargs: dict[str, Any] = {"config": config}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                    if not self._has_credentials():
                        kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106
                client = self.session.client(service, **kwargs)
                client.meta.events.register("before-call.*.*", self._before_call)
                self._clients[service] = client
            return self._clients[service]

    def _has_credentials(self) -> bool:
        return self.session.get_credentials() is not None

    def _before_call(self, model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        name = f"{service}:{model.name}"
        with self._lock:
            self.calls[name] += 1
        if self.dry_run and not is_read_only(model.name):
            raise DryRunViolation(
                f"dry-run: refused the mutating AWS call {name}",
                hint="this is a bug in the planner: it must only read while planning",
            )

    def mutating_calls(self) -> dict[str, int]:
        return {k: v for k, v in self.calls.items() if not is_read_only(k.split(":", 1)[1])}

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])


_LOADER: Any = None
_LOADER_LOCK = threading.Lock()


def _botocore_session(profile: str | None) -> Any:
    """A fresh botocore session sharing one process-wide data loader: the loader caches the parsed
    service models, so a second AwsClients (deploy after provision, rollback after deploy) builds its
    clients several times faster."""
    global _LOADER
    import botocore.session

    session = botocore.session.get_session()
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _LOADER)
    if profile:
        session.set_config_variable("profile", profile)
    return session


def endpoint_from_environment() -> str | None:
    """The standard AWS_ENDPOINT_URL, honoured when settings name no endpoint."""
    return os.environ.get("AWS_ENDPOINT_URL") or None
