"""`python -m worker.jobs.check_overdue_tasks`: run the task body once, exit 0 (done) or 1 (failed).

This is what a Cloud Run job or a scheduled ECS task runs. It needs no broker: it calls the task's
function directly, in this process.
"""

from __future__ import annotations

import json
import logging
import sys

log = logging.getLogger("worker.jobs.check_overdue_tasks")


def main() -> int:
    from worker import settings

    settings.configure_logging()
    try:
        from worker.tasks import check_overdue_tasks

        count = check_overdue_tasks.run()
    except Exception as exc:
        log.error(
            "check_overdue_tasks failed: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""
        )
        return 1
    print(json.dumps({"job": "check_overdue_tasks", "marked_overdue": count}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
