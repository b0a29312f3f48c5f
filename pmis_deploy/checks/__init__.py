"""The pre-deployment checklist: one module per item, plus the report."""
