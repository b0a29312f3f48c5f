"""PMIS worker: Celery tasks (and one-shot job entrypoints) over the api's database."""
