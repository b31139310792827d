"""Test fixtures for ten99: real PostgreSQL and NATS JetStream, private nats-servers, an SMTP
sink, in-process services and service processes, and waiting without sleeping (conditions and
idle barriers). Loaded as a pytest plugin (``ten99``)."""

from .caught import CaughtMail
from .nats_server import NatsServerProcess, nats_server_binary
from .ports import free_port
from .service import running_service
from .smtp import SmtpSink
from .waiting import WaitTimeout, quiescent, quiescent_processes, wait_until, wait_until_sync

__all__ = [
    "CaughtMail",
    "NatsServerProcess",
    "SmtpSink",
    "WaitTimeout",
    "free_port",
    "nats_server_binary",
    "quiescent",
    "quiescent_processes",
    "running_service",
    "wait_until",
    "wait_until_sync",
]
