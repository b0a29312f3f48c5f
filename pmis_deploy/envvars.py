"""The environment variables the deployed services receive (ECS task definitions, Cloud Run specs).

The AWS and GCP builders import RUNTIME_VARIABLES to build their env / secrets lists, and
`inv checks.env-docs` requires every name here to be documented in ENV_VARS.md.
SECRET_VARIABLES are injected from Secrets Manager / Secret Manager, never as plain values.
"""

from __future__ import annotations

RUNTIME_VARIABLES: dict[str, str] = {
    "DATABASE_URL": "PostgreSQL URL of the api and worker (secret)",
    "REDIS_URL": "Redis URL: cache and Celery result backend (secret)",
    "CELERY_BROKER_URL": "Celery broker URL (secret; the Redis URL)",
    "AZURE_OPENAI_API_KEY": "API key of the Azure OpenAI resource (secret)",
    "LOG_LEVEL": "log level of the services (debug, info, warning, error)",
    "ENVIRONMENT": "the environment name (local, staging, production)",
    "PORT": "port the api (8000) and web (3000) containers listen on",
    "NEXT_PUBLIC_API_URL": "public URL of the api, used by the web app (a build argument of the web image)",
    "CORS_ALLOW_ORIGINS": "comma-separated origins the api accepts browser calls from (the web app's URL)",
}

SECRET_VARIABLES: frozenset[str] = frozenset({"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AZURE_OPENAI_API_KEY"})
