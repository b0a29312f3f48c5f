"""moto's ECS, extended so deployments roll, fail and roll back, and one-off tasks exit (work in progress)."""

from __future__ import annotations


def install() -> None:
    """Patch moto's ECS backend and responses (idempotent)."""


def resource_counts() -> dict[str, int]:
    """Counts of ECS resources across accounts and regions (cheap: no backend is created)."""
    from moto.ecs.models import ecs_backends

    counts = {"ecs_clusters": 0, "ecs_services": 0, "ecs_task_definitions": 0, "ecs_tasks": 0}
    for account in dict.values(ecs_backends):
        for backend in dict.values(account):
            counts["ecs_clusters"] += len(backend.clusters)
            counts["ecs_services"] += sum(1 for s in backend.services.values() if s.status == "ACTIVE")
            counts["ecs_task_definitions"] += sum(len(revs) for revs in backend.task_definitions.values())
            counts["ecs_tasks"] += sum(len(tasks) for tasks in backend.tasks.values())
    return counts
