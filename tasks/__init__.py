"""The root `inv` collection: one module per namespace (see README, "Tasks").

Task modules import nothing heavy at load time, so `inv --list` stays fast.
"""

from invoke import Collection

from tasks import config_tasks

ns = Collection()
ns.add_collection(config_tasks.ns)
