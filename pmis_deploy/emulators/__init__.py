"""Embedded local control planes: AWS (moto server, extended) and a fake of the GCP REST APIs."""
