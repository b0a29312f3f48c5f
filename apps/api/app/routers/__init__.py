"""The /api routers."""
