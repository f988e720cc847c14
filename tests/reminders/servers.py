"""Local stand-ins for the outside world: an SMTP server (aiosmtpd) and a group-robot
webhook (http.server in a thread), each answering as a test scripts it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpRecorder:
    """An aiosmtpd handler keeping the messages; `refuse` answers DATA with an error."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    from aiosmtpd.controller import Controller

    handler = SmtpRecorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class Robot:
    """What the webhook received, and how it answers next: (status, json body, delay)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, Any], float]] = []
        self.default: tuple[int, dict[str, Any], float] = (200, {"errcode": 0, "errmsg": "ok"}, 0)
        self.url = ""

    def next_answer(self) -> tuple[int, dict[str, Any], float]:
        return self.script.pop(0) if self.script else self.default


@contextmanager
def robot_server() -> Iterator[Robot]:
    robot = Robot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            robot.requests.append({"path": self.path, "json": body})
            status, answer, delay = robot.next_answer()
            if delay:
                time.sleep(delay)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    robot.url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=test-key"
    try:
        yield robot
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
