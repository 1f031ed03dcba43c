"""Real servers on loopback for the notifier tests: an HTTP webhook receiver and a minimal SMTP server.

Both bind 127.0.0.1 on a free port, serve from a daemon thread, time out idle connections after a few
seconds, and stop when their context manager exits, so a failing test never leaves one running.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDLE_SECONDS = 5


@dataclass
class Webhook:
    url: str
    posts: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    status: int = 200
    delay_seconds: float = 0.0


@contextmanager
def webhook_server(status: int = 200, delay_seconds: float = 0.0) -> Iterator[Webhook]:
    """Records every JSON POST; answers `status` after `delay_seconds`."""
    state: Webhook

    class Handler(BaseHTTPRequestHandler):
        timeout = IDLE_SECONDS

        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(state.delay_seconds)
            state.posts.append(json.loads(body))
            state.headers.append(dict(self.headers))
            try:
                self.send_response(state.status)
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up waiting (the timeout tests)
                pass

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Webhook(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts",
                    status=status, delay_seconds=delay_seconds)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=IDLE_SECONDS)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpState:
    host: str
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    No STARTTLS is offered, so a client that insists on it must fail."""

    timeout = IDLE_SECONDS

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state: SmtpState = self.server.state  # type: ignore[attr-defined]
        sender, recipients = "", []
        self.reply("220 127.0.0.1 test SMTP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            state.commands.append(verb)
            if verb == "EHLO":
                self.reply("250-127.0.0.1\r\n250-AUTH PLAIN\r\n250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 127.0.0.1")
            elif verb == "AUTH":
                _, mechanism, *rest = command.split(" ")
                _, user, password = base64.b64decode(rest[0]).decode().split("\0")
                state.logins.append((user, password))
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].split()[0].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while (row := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(row[1:] if row.startswith(b"..") else row)
                message = message_from_bytes(b"".join(data), policy=policy.default)
                state.mails.append(Mail(sender, recipients, message))
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


@contextmanager
def smtp_server() -> Iterator[SmtpState]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    state = SmtpState(host="127.0.0.1", port=server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=IDLE_SECONDS)


def free_closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
