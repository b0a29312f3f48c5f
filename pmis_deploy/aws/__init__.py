"""AWS adapters (boto3 only), one module per concern."""
