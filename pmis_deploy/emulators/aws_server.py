"""Run the embedded AWS emulator: moto's server with the ECS extension and the control API.

    python -m pmis_deploy.emulators.aws_server --port 5055 [--host 127.0.0.1] [--verbose]

Started detached by `pmis_deploy.emulators.aws.ensure_running`; serves until SIGTERM/SIGINT.
`ExtendedMotoServer` is the in-process (thread) form the tests use.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from pmis_deploy.emulators import aws_control


def application(*, background: bool = False) -> aws_control.ControlApp:
    """moto's WSGI app with the ECS extension installed and the control API in front.

    background=True answers the readiness probe at once and installs the extension (which imports
    moto's ECS and EC2 models, most of the start-up time) in a thread; other requests wait for it.
    """
    ready = threading.Event()

    def prepare() -> None:
        try:
            from pmis_deploy.emulators import aws_ecs

            aws_ecs.install()
        except Exception:
            logging.exception("the ECS extension failed to install; stopping")
            os._exit(70)
        ready.set()

    def resources() -> dict[str, int]:
        if not ready.is_set():
            return {}
        from pmis_deploy.emulators import aws_ecs

        return aws_ecs.resource_counts()

    app = aws_control.ControlApp(DomainDispatcherApplication(create_backend_app), resources=resources, ready=ready)
    if background:
        threading.Thread(target=prepare, name="ecs-extension", daemon=True).start()
    else:
        prepare()
    return app


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class ExtendedMotoServer(ThreadedMotoServer):
    """moto's ThreadedMotoServer serving `application()` (port 0 = a free port)."""

    def _server_entry(self) -> None:
        handler = MotoRequestHandler if self._verbose else QuietRequestHandler
        self._server = make_server(self._ip_address, self._port, application(), True, request_handler=handler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aws_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5055, help="port to listen on (default 5055)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs (SQS, S3) from it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    aws_control.knobs_from_environment()
    handler = MotoRequestHandler if args.verbose else QuietRequestHandler
    server = make_server(args.host, args.port, application(background=True), threaded=True, request_handler=handler)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"pmis embedded AWS (moto, extended ECS) on http://{args.host}:{args.port} pid {os.getpid()}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
