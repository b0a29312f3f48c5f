"""Typed gcloud failures, recognised from gcloud's stderr (strings captured from gcloud 528).

`classify(stderr)` picks the most specific class; `from_command_error` rebuilds a CommandError raised
by the shell Runner as that class, keeping the argv, exit code and (redacted) stderr tail.
"""

from __future__ import annotations

import re

from pmis_deploy.errors import CommandError, ToolMissingError


class GcloudError(CommandError):
    """A gcloud command failed for a reason not recognised more specifically."""


class GcloudNotInstalled(GcloudError, ToolMissingError):
    """The gcloud CLI is not on PATH."""

    default_hint = "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and put gcloud on PATH"


class NotAuthenticated(GcloudError):
    default_hint = (
        "authenticate: `gcloud auth login` (humans) or a service-account key / workload identity with "
        "GOOGLE_APPLICATION_CREDENTIALS (automation); for the local fake use --env local"
    )


class PermissionDenied(GcloudError):
    default_hint = "grant the deploying account the IAM role the message names (or check --project)"


class NotFound(GcloudError):
    default_hint = "check the name, --project and the region; `inv provision.gcp` creates what is missing"


class AlreadyExists(GcloudError):
    default_hint = "the resource exists already; the converge step should have described it first (a bug)"


class ApiNotEnabled(GcloudError):
    default_hint = "enable the API: `inv provision.gcp` enables every API it needs, first"


class ComponentMissing(GcloudError):
    """The command group lives in a gcloud component that is not installed (alert policies need `alpha`)."""

    default_hint = (
        "install the component the message names: `gcloud components install alpha`, or for a gcloud "
        "installed by apt/yum `apt-get install google-cloud-cli-alpha`"
    )


class NoIdentityToken(GcloudError):
    """The active credentials cannot mint an ID token (a private Cloud Run service needs one)."""

    default_hint = (
        "use a service account: `gcloud config set auth/impersonate_service_account SA_EMAIL` (the account "
        "needs roles/run.invoker on the api), or set gcp.allow_unauthenticated_api = true"
    )


class Conflict(GcloudError):
    """A concurrent modification (IAM etag, precondition failed): retry the read-modify-write."""

    default_hint = "another change raced this one; run the command again"


# Order matters: the most specific match wins (a disabled API is reported as PERMISSION_DENIED).
_PATTERNS: list[tuple[type[GcloudError], re.Pattern[str]]] = [
    (
        ComponentMissing,
        re.compile(
            r"requires\s+the\s+installation\s+of\s+components|components\s+are\s+required\s+to\s+run|"
            r"component\s+manager\s+is\s+disabled",
            re.I,
        ),
    ),
    (NoIdentityToken, re.compile(r"No identity token can be obtained|Invalid account type for `--audiences`")),
    (
        NotAuthenticated,
        re.compile(
            r"You do not currently have an active account selected|UNAUTHENTICATED|"
            r"Reauthentication (failed|required)|problem refreshing your current auth tokens|"
            r"invalid_grant|Your current active account .* does not have any valid credentials",
            re.I,
        ),
    ),
    (
        ApiNotEnabled,
        re.compile(
            r"SERVICE_DISABLED|has not been used in project \S+ before or it is disabled|"
            r"API \[[\w.]+\] not enabled|\bAPI is not enabled\b",
            re.I,
        ),
    ),
    (PermissionDenied, re.compile(r"PERMISSION_DENIED|does not have permission|Permission '[\w.]+' denied")),
    (AlreadyExists, re.compile(r"ALREADY_EXISTS|already exists|is the subject of a conflict", re.I)),
    (
        Conflict,
        re.compile(
            r"\bABORTED\b|FAILED_PRECONDITION|conditionNotMet|concurrent policy changes|"
            r"pre-?conditions?|HTTPError 412",
            re.I,
        ),
    ),
    (
        NotFound,
        re.compile(r"NOT_FOUND|Cannot find \w+|\bnot found\b|does not exist|was not found|matched no objects", re.I),
    ),
]


def classify(stderr: str) -> type[GcloudError]:
    """The error class that `stderr` (gcloud's) describes; GcloudError when nothing specific matches."""
    for cls, pattern in _PATTERNS:
        if pattern.search(stderr):
            return cls
    return GcloudError


def from_command_error(exc: CommandError) -> GcloudError:
    """The typed form of a failed gcloud command (message and argv already redacted by the Runner)."""
    if isinstance(exc, ToolMissingError):
        return GcloudNotInstalled(exc.message, hint=GcloudNotInstalled.default_hint, argv=exc.argv)
    cls = classify(exc.stderr_tail or exc.message)
    hint = exc.hint or getattr(cls, "default_hint", None)
    return cls(exc.message, hint=hint, argv=exc.argv, returncode=exc.returncode, stderr_tail=exc.stderr_tail)
