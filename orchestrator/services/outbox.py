"""Deliver queued messages after commit: claim, send outside any transaction, record.

Each message carries an idempotency key; a backend that supports it (SMTP Message-ID,
the log line) passes it on so a receiver can drop a duplicate if a worker dies between
sending and recording.
"""
from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from ..store.models import Event, OutboxMessage
from .env import Env, Settings

log = logging.getLogger("polku.outbox")
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Envelope:
    id: int
    case_id: int | None
    idempotency_key: str
    channel: str
    recipient: str
    subject: str
    body: str


class Backend(Protocol):
    def send(self, message: Envelope) -> None: ...


class LogBackend:
    """The single-machine default: one JSON line per message in a log file."""

    def __init__(self, path: str):
        self.path = Path(path)

    def send(self, message: Envelope) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(message.__dict__, ensure_ascii=False) + "\n")
        log.info("message %s to %s: %s", message.idempotency_key, message.recipient, message.subject)


class SmtpBackend:
    def __init__(self, host: str, port: int, sender: str):
        self.host, self.port, self.sender = host, port, sender

    def send(self, message: Envelope) -> None:
        if "@" not in message.recipient:
            raise ValueError(f"no e-mail address for {message.recipient}")
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject
        mail["Message-ID"] = f"<{message.idempotency_key.replace(':', '.')}@polku>"
        mail.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=20) as smtp:
            smtp.send_message(mail)


def backend_for(settings: Settings) -> Backend:
    if settings.outbox_backend == "smtp" and settings.smtp_host:
        return SmtpBackend(settings.smtp_host, settings.smtp_port, settings.smtp_sender)
    return LogBackend(settings.outbox_log_path)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def deliver_outbox(env: Env, backend: Backend, limit: int = 50) -> tuple[int, int]:
    """Send what is due; returns (sent, failed this round)."""
    now = env.now()
    with env.uow() as uow:
        s = uow.session
        rows = s.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.next_attempt_at <= now,
            sa.or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now))
            .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)).all()
        batch = []
        for row in rows:
            row.status, row.lease_until = "sending", now + LEASE
            batch.append(Envelope(row.id, row.case_id, row.idempotency_key, row.channel, row.recipient,
                                  row.subject, row.body))
        uow.commit()
    sent = failed = 0
    for envelope in batch:
        try:
            backend.send(envelope)
            error = None
        except Exception as exc:  # noqa: BLE001 - any delivery failure is retried later
            error = f"{type(exc).__name__}: {exc}"
        with env.uow() as uow:
            row = uow.session.get(OutboxMessage, envelope.id)
            if row is None or row.status != "sending":
                continue  # cancelled meanwhile
            row.lease_until = None
            if error is None:
                row.status, row.sent_at = "sent", env.now()
                sent += 1
            else:
                row.attempts += 1
                row.last_error = error
                failed += 1
                if row.attempts >= env.settings.outbox_max_attempts:
                    row.status = "failed"
                    uow.session.add(Event(case_id=row.case_id, at=env.now(), actor="system",
                                          kind="message_failed",
                                          details={"recipient": row.recipient, "error": error}))
                else:
                    row.status, row.next_attempt_at = "pending", env.now() + backoff(row.attempts)
            uow.commit()
    return sent, failed
