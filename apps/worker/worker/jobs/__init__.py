"""One-shot entrypoints for schedulers that run a container to completion (Cloud Run jobs, ECS tasks)."""
