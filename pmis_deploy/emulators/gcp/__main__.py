"""`python -m pmis_deploy.emulators.gcp --port 5056 [--state-file F]`: run the fake GCP in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from pmis_deploy.emulators.gcp.server import FakeGcp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pmis_deploy.emulators.gcp", description=__doc__)
    parser.add_argument("--port", type=int, default=5056, help="port of the API endpoint and HTTP proxy")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    parser.add_argument("--state-file", type=Path, help="JSON snapshot: loaded at start, saved after each change")
    args = parser.parse_args(argv)
    fake = FakeGcp(args.port, args.state_file, host=args.host)

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(f"fake GCP listening on {fake.url} (state file: {args.state_file or 'none'})", flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
