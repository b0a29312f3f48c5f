"""`Cmd`: one gcloud command as a pure value (PerfKitBenchmarker's GcloudCommand, tested by equality).

    Cmd(("sql", "instances", "describe"), ("pmis-local-postgres",))
    Cmd(("redis", "instances", "describe"), ("pmis-local-redis",), scope="region")

The common flags (`--format=json --quiet --project=…`, and `--region=…`/`--location=…` for commands
whose `scope` says they take one) are added once, by `Cmd.argv(project, region)`; builders never add
them. Whether a command only reads is decided by its verb (`read_only`), which the runner enforces in
dry-run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["region", "location"] | None
FlagValue = str | int | bool | Sequence[str] | None

# Verbs (the last word of the command path) that never change anything.
READ_VERBS = frozenset(
    {
        "describe",
        "list",
        "get-iam-policy",
        "get-auth-string",
        "access",  # secrets versions access
        "get-value",
        "read",  # logging read
        "list-tags",
        "get",
        "print-access-token",
        "print-identity-token",
        "version",
        "list-grantable-roles",
        "get-server-config",
        "cat",  # storage objects cat
        "ls",  # storage ls
        "list-enabled",
    }
)


def flags(**values: FlagValue) -> tuple[str, ...]:
    """`--name=value` pairs from keyword arguments (underscores become dashes).

    True → `--name`, False/None → omitted, a sequence → comma-joined. Order is preserved.
    """
    out: list[str] = []
    for key, value in values.items():
        name = "--" + key.rstrip("_").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(name)
        elif isinstance(value, str | int):
            out.append(f"{name}={value}")
        else:
            out.append(f"{name}={','.join(value)}")
    return tuple(out)


def kv(pairs: Mapping[str, str]) -> str:
    """`A=1,B=2` for gcloud dict flags (keys sorted, so argv is stable)."""
    return ",".join(f"{k}={v}" for k, v in sorted(pairs.items()))


@dataclass(frozen=True)
class Cmd:
    """A gcloud command: group path, positional arguments, flags, and where it is scoped."""

    path: tuple[str, ...]
    args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    scope: Scope = None
    input: str | None = field(default=None, repr=False)  # stdin (secret payloads via --data-file=-)
    # Secret-valued flags (`--password`): the runner passes them in a 0600 `--flags-file`, never argv.
    secret_options: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def verb(self) -> str:
        return self.path[-1]

    @property
    def read_only(self) -> bool:
        return self.verb in READ_VERBS

    @property
    def display_name(self) -> str:
        return " ".join(("gcloud", *self.path, *self.args))

    def argv(self, project: str, region: str, *, binary: str = "gcloud") -> list[str]:
        """The full argv with the common flags added exactly once."""
        common = [f"--project={project}", "--format=json", "--quiet"]
        if self.scope:
            common.insert(0, f"--{self.scope}={region}")
        return [binary, *self.path, *self.args, *self.options, *common]
