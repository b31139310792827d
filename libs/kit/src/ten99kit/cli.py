"""``python -m <service> api|worker|relay|all|migrate|makemigration|deadletters``.

``migrate`` upgrades to head (under an advisory lock on PostgreSQL); ``migrate --check`` exits 0
at head and 1 otherwise; ``migrate --wait [--timeout S]`` waits for head (exit 1 on timeout);
``migrate --downgrade <revision>`` rolls the schema back (``-1``: one step). A schema migrated by
a later release (a revision these scripts do not know) counts as usable: ``migrate`` leaves it
alone and ``--check`` says so with exit 0, so that a code rollback's pods start (expand/contract)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any

from pydantic import ValidationError

from .logging import bind_actor
from .migrations import check, downgrade, revision, upgrade, wait_for_head
from .runtime import MODES, Runtime, ServiceDefinition
from .settings import ServiceSettings, SettingsRefused

__all__ = ["main"]


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {definition.name}", description=f"ten99 {definition.name} service")
    sub = parser.add_subparsers(dest="command", required=True)
    for mode in MODES:
        p = sub.add_parser(mode, help=f"run the {mode} process" if mode != "all" else "API, consumers and relay in one process")
        p.add_argument("--no-migrate", action="store_true", help="do not migrate the database first")
    mig = sub.add_parser("migrate", help="upgrade the database to the latest migration (under a lock)")
    how = mig.add_mutually_exclusive_group()
    how.add_argument("--check", action="store_true", help="exit 0 if the database is at head, 1 if not")
    how.add_argument("--wait", action="store_true", help="wait until the database is at head (another process migrates)")
    how.add_argument("--downgrade", metavar="REVISION", help="roll the schema back to REVISION (-1: one step)")
    mig.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
    mk = sub.add_parser("makemigration", help="autogenerate a migration from the models")
    mk.add_argument("message")
    dl = sub.add_parser("deadletters", help="list or replay dead-lettered messages")
    dl.add_argument("action", choices=["list", "replay", "replay-all"])
    dl.add_argument("id", nargs="?", type=int)
    for name, command in definition.commands.items():
        command.arguments(sub.add_parser(name, help=command.help))
    args = parser.parse_args(argv)

    settings = _settings(definition, args.command)
    if settings is None:
        return 2
    if args.command == "migrate":
        return _migrate(definition, settings, args)
    if args.command == "makemigration":
        revision(definition.migrations, settings.db.url, args.message)
        return 0
    if args.command == "deadletters":
        return _run(settings, _deadletters(definition, settings, args))
    if args.command in definition.commands:
        if settings.db.auto_migrate:
            upgrade(definition.migrations, settings.db.url)
        return _run(settings, _command(definition, settings, args))
    if not args.no_migrate and settings.db.auto_migrate:
        upgrade(definition.migrations, settings.db.url)
    return _run(settings, _serve(definition, settings, args.command))


def _migrate(definition: ServiceDefinition, settings: ServiceSettings, args: argparse.Namespace) -> int:
    name, migrations, url = definition.name, definition.migrations, settings.db.url
    if args.check:
        state = check(migrations, url)
        print(f"{name}: {state.describe()}", file=sys.stderr)
        return 0 if state.usable else 1
    if args.wait:
        try:
            state = wait_for_head(migrations, url, args.timeout)
        except TimeoutError as e:
            print(f"{name}: {e}", file=sys.stderr)
            return 1
        print(f"{name}: {state.describe()}", file=sys.stderr)
        return 0
    if args.downgrade:
        downgrade(migrations, url, args.downgrade)
        print(f"{name}: {check(migrations, url).describe()}", file=sys.stderr)
        return 0
    state = check(migrations, url)
    if state.ahead:  # a code rollback: this release's migrator leaves a later release's schema alone
        print(f"{name}: {state.describe()}; nothing to do", file=sys.stderr)
        return 0
    upgrade(migrations, url)
    print(f"{name}: database at head", file=sys.stderr)
    return 0


def _settings(definition: ServiceDefinition, command: str) -> ServiceSettings | None:
    """The one place settings are read from the environment. A typo in a variable's name or a
    development secret outside development stops the process here, with the reason on stderr."""
    try:
        settings = definition.settings_type()
        if command not in ("migrate", "makemigration"):  # these read only the database settings
            settings.refuse_unsafe_defaults()
    except (ValidationError, SettingsRefused) as e:
        print(f"{definition.name}: invalid settings: {e}", file=sys.stderr)
        return None
    return settings


def _run(settings: Any, main: Coroutine[Any, Any, int]) -> int:
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


async def _serve(definition: ServiceDefinition, settings: Any, mode: str) -> int:
    runtime = Runtime(definition, settings)
    await runtime.serve(mode)
    return 0


async def _command(definition: ServiceDefinition, settings: Any, args: argparse.Namespace) -> int:
    """Run a service's own command; messages it emits are published before exiting."""
    runtime = Runtime(definition, settings)
    try:
        await runtime.start()
        bind_actor("operator")  # what a service's own command changes, an operator asked for
        code = await definition.commands[args.command].run(runtime, args)
        await runtime.relay.drain()
        return code
    finally:
        await runtime.close()


async def _deadletters(definition: ServiceDefinition, settings: Any, args: argparse.Namespace) -> int:
    runtime = Runtime(definition, settings)
    try:
        if args.action == "list":
            for d in await runtime.consumer.dead_letters():
                print(
                    json.dumps(
                        {
                            "id": d.id,
                            "subject": d.subject,
                            "message_id": d.message_id,
                            "deliveries": d.deliveries,
                            "created_at": d.created_at.isoformat(),
                            "error": d.error.splitlines()[0] if d.error else "",
                        }
                    )
                )
            return 0
        ids = [args.id] if args.action == "replay" else [d.id for d in await runtime.consumer.dead_letters()]
        if args.action == "replay" and args.id is None:
            print("replay needs a dead letter id", file=sys.stderr)
            return 2
        for i in ids:
            applied = await runtime.consumer.replay(i)
            print(json.dumps({"id": i, "applied": applied}))
        # replays may have emitted messages: publish them before exiting
        await runtime.bus.connect()
        await runtime.relay.drain()
        return 0
    finally:
        await runtime.close()
