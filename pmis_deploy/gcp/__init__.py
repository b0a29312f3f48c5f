"""GCP adapters: one gcloud runner (argv lists, --format=json), one module per concern."""
