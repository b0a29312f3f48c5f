"""The fake's state: resource tables, failure knobs, long-running operations, the request log, snapshots."""

from __future__ import annotations

import copy
import json
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pmis_deploy.emulators.gcp.core import JSON, ApiError, now, op_id, project_number

REDACTED = "<redacted>"
LOG_LIMIT = 5000
# Keys whose values never reach the request log (user passwords, secret payloads, Redis AUTH strings).
SECRET_KEYS = frozenset({"password", "rootPassword", "data", "payload", "authString"})


@dataclass
class Knobs:
    """Failure and timing knobs. Set them with POST /_fake/knobs {"name": value} or FakeGcp.set_knob()."""

    # Cloud Run job name -> message: executions of that job fail (Completed False, message).
    fail_job_executions: dict[str, str] = field(default_factory=dict)
    # Cloud Run service name -> message: new revisions of that service never become Ready.
    fail_service_revisions: dict[str, str] = field(default_factory=dict)
    # Service names ("redis.googleapis.com") answering 403 SERVICE_DISABLED until `services enable`.
    disabled_apis: list[str] = field(default_factory=list)
    # Strict mode: every API not enabled through serviceusage is disabled.
    require_enabled_apis: bool = False
    # Long-running operations are returned done by the create call (gcloud then skips polling).
    op_done_at_create: bool = True
    # ... otherwise they stay pending for this many GETs.
    op_polls: int = 0
    # Cloud Run services and job executions report Ready/Completed Unknown for this many GETs.
    run_polls: int = 0

    def update(self, values: JSON) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ApiError(400, "INVALID_ARGUMENT", f"Unknown knob(s) {unknown}; known: {sorted(known)}.")
        defaults = Knobs()
        for name, value in values.items():
            expected = type(getattr(defaults, name))
            if expected is dict and isinstance(value, list):
                value = dict.fromkeys(value, "")
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ApiError(400, "INVALID_ARGUMENT", f"Knob {name} must be a {expected.__name__}.")
            setattr(self, name, copy.deepcopy(value))


def redact(value: Any, key: str = "") -> Any:
    """A copy of a request body with passwords and secret payloads replaced by <redacted>."""
    if key in SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class Store:
    """All state behind one re-entrant lock; the HTTP server holds it for the whole of each request."""

    def __init__(self, snapshot: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.snapshot = snapshot
        self.tables: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self.knobs = Knobs()
        self.log: list[JSON] = []
        if snapshot and snapshot.exists():
            self._load(snapshot)

    # ------------------------------------------------------------------ tables

    def table(self, name: str) -> dict[str, Any]:
        return self.tables.setdefault(name, {})

    def next(self, counter: str) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def reset(self) -> None:
        with self.lock:
            self.tables.clear()
            self.counters.clear()
            self.knobs = Knobs()
            self.log.clear()
            self.save()

    # ------------------------------------------------------------------ operations

    def operation(self, name: str, response: JSON | None = None, metadata: JSON | None = None) -> JSON:
        """A google.longrunning.Operation, done at once or after `op_polls` GETs (see the knobs)."""
        done = self.knobs.op_done_at_create
        op: JSON = {"name": name, "done": done}
        if metadata:
            op["metadata"] = metadata
        self.table("operations")[name] = {
            "op": op,
            "response": response or {},
            "polls": 0 if done else self.knobs.op_polls,
        }
        return self.poll(name, first=True)

    def poll(self, name: str, first: bool = False) -> JSON:
        entry = self.table("operations").get(name)
        if entry is None:
            raise ApiError(404, "NOT_FOUND", f"Operation {name} was not found.")
        op = dict(entry["op"])
        if not first and not op["done"]:
            if entry["polls"] > 0:
                entry["polls"] -= 1
            else:
                op["done"] = True
                entry["op"] = op
        if op["done"] and entry["response"]:
            op["response"] = entry["response"]
        return op

    def new_op_name(self, prefix: str) -> str:
        return f"{prefix}/operations/{op_id()}" if prefix else f"operations/{op_id()}"

    # ------------------------------------------------------------------ request log

    def record(self, entry: JSON) -> None:
        self.log.append(entry)
        del self.log[:-LOG_LIMIT]

    # ------------------------------------------------------------------ snapshots

    def dump(self) -> JSON:
        return {
            "tables": self.tables,
            "counters": self.counters,
            "knobs": asdict(self.knobs),
            "saved": now(),
        }

    def save(self) -> None:
        """Write the snapshot atomically (when the fake was started with a state file)."""
        if not self.snapshot:
            return
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds secret payloads
        with os.fdopen(fd, "w") as out:
            json.dump(self.dump(), out)
        tmp.replace(self.snapshot)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return  # a torn or foreign file: start empty rather than refuse to start
        self.tables = data.get("tables", {})
        for rows in self.tables.values():  # project numbers in later requests must map back to ids
            for key in rows:
                project = key.split("/", 1)[0]
                if project and not project.isdigit() and "@" not in project:
                    project_number(project)
        self.counters = data.get("counters", {})
        self.knobs.update(data.get("knobs", {}))
