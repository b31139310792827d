"""Test fixtures for ten99: real PostgreSQL and NATS JetStream, private nats-servers, an SMTP
sink, in-process services and service processes. Loaded as a pytest plugin (``ten99``)."""

from .nats_server import NatsServerProcess, nats_server_binary
from .ports import free_port
from .service import running_service
from .smtp import SmtpSink

__all__ = ["NatsServerProcess", "SmtpSink", "free_port", "nats_server_binary", "running_service"]
