"""The root `inv` collection: one module per namespace (see README, "Tasks").

Cloud-specific tasks live in aws_tasks.py / gcp_tasks.py; each exposes BY_NAMESPACE, e.g.
{"deploy": <task named "aws">}, and they are merged here into `deploy.aws`, `deploy.gcp`, …
Task modules import nothing heavy at load time, so `inv --list` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util

from invoke import Collection

# Modules with their own namespace (`ns`), mounted as their ns name.
NAMESPACE_MODULES = ("config_tasks", "db", "checks", "local", "images", "secret_tasks", "releases")
# Modules contributing cloud-named tasks to shared namespaces.
CLOUD_MODULES = ("aws_tasks", "gcp_tasks")
SHARED_NAMESPACES = {
    "provision": "Converge the cloud infrastructure of an environment.",
    "deploy": "Release the current commit: lock, gate, build, migrate, roll out, verify, record.",
    "rollback": "Put every service back on a previous good release.",
    "status": "Services, rollout state and recent releases of an environment.",
}


def _load(name: str) -> object | None:
    if importlib.util.find_spec(f"tasks.{name}") is None:
        return None
    return importlib.import_module(f"tasks.{name}")


ns = Collection()
for _name in NAMESPACE_MODULES:
    _module = _load(_name)
    if _module is not None:
        ns.add_collection(_module.ns)  # type: ignore[attr-defined]

_shared = {name: Collection(name) for name in SHARED_NAMESPACES}
for _name in CLOUD_MODULES:
    _module = _load(_name)
    if _module is not None:
        for _namespace, _tasks in _module.BY_NAMESPACE.items():  # type: ignore[attr-defined]
            for _task in _tasks if isinstance(_tasks, list | tuple) else [_tasks]:
                _shared[_namespace].add_task(_task)
for _namespace, _collection in _shared.items():
    if _collection.tasks:
        ns.add_collection(_collection)
