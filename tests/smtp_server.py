"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from onestop.mail import SmtpSettings


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class _Keeper:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.invalid"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SmtpServer:
    def __init__(self, controller: Controller, keeper: _Keeper) -> None:
        self.controller, self.keeper = controller, keeper

    @property
    def settings(self) -> SmtpSettings:
        return SmtpSettings(
            host="127.0.0.1", port=self.controller.port, sender="mot-cua@xa-mp.gov.vn"
        )

    @property
    def messages(self) -> list[Received]:
        with self.keeper.lock:
            return list(self.keeper.messages)

    def env(self) -> dict[str, str]:
        return {
            "ONESTOP_SMTP_HOST": "127.0.0.1",
            "ONESTOP_SMTP_PORT": str(self.controller.port),
            "ONESTOP_SMTP_FROM": "mot-cua@xa-mp.gov.vn",
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    keeper = _Keeper()
    controller = Controller(keeper, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SmtpServer(controller, keeper)
    finally:
        controller.stop()
