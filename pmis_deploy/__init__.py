"""PMIS deploy: the domain package behind the `inv` tasks. Never imports invoke; cheap to import."""

__version__ = "0.1.0"
