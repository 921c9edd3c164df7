"""`make up`: the embedded broker (unless a cluster is configured), an SMTP catcher and the services."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Printer
from rich.console import Console

from womctl.broker import EmbeddedBroker
from womctl.topics import create_topics

__all__ = ["SERVICES", "run_up"]

SERVICES = {"referrals": 8001, "rewards": 8002, "outreach": 8003, "feedback": 8004}
"""The services and their HTTP ports on one machine: the one table of them. `make up` gives each
its port (HTTP_PORT); the settings' defaults, docker-compose.yml, the dev overlay and the READMEs
are held to it by deploy/tests/test_ports.py."""
DEV_API_TOKEN = "dev-token"
# demo / demo and olga / olga in the support console: for local use only
DEMO_AGENTS_FILE = Path(__file__).resolve().parents[4] / "services/feedback/agents.demo.yaml"


def _command(name: str) -> str:
    script = shutil.which(f"wom-{name}", path=str(Path(sys.executable).parent)) or shutil.which(f"wom-{name}")
    return script or f"{sys.executable} -c 'from {name}.app import main; main()'"


def run_up(
    *,
    services: list[str],
    broker_port: int = 9092,
    smtp_port: int = 1025,
    mail_dir: Path = Path("var/mail"),
    console: Console | None = None,
) -> int:
    """Run everything until Ctrl-C or SIGTERM; stop services, catcher, then broker. Return the exit code."""
    console = console or Console()
    env = dict(os.environ)
    broker = None
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = EmbeddedBroker(port=broker_port).start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    try:
        created = asyncio.run(create_topics(env["KAFKA_BOOTSTRAP_SERVERS"]))
        env.setdefault("SMTP_HOST", "127.0.0.1")
        env.setdefault("SMTP_PORT", str(smtp_port))
        env.setdefault("API_TOKEN", DEV_API_TOKEN)
        env.setdefault("WOM_ENV", "dev")  # the development secrets above and the services' defaults
        if DEMO_AGENTS_FILE.exists():
            env.setdefault("FEEDBACK_AGENTS_FILE", str(DEMO_AGENTS_FILE))
        env["PYTHONUNBUFFERED"] = "1"
        manager = Manager(Printer(sys.stdout))
        manager.add_process(
            "smtp",
            f"{sys.executable} -m womctl dev smtp --port {env['SMTP_PORT']} --directory {mail_dir}",
            env=env,
        )
        for name in services:
            manager.add_process(name, _command(name), env={**env, "HTTP_PORT": str(SERVICES[name])})
        console.print(
            f"[bold]wom[/] broker {env['KAFKA_BOOTSTRAP_SERVERS']}"
            f"{' (embedded, in memory)' if broker else ''}, {len(created)} topics created"
        )
        console.print(
            f"mail → {mail_dir}/ (SMTP 127.0.0.1:{env['SMTP_PORT']}); API token {env['API_TOKEN']!r}"
        )
        for name in services:
            console.print(f"  {name:<10} http://127.0.0.1:{SERVICES[name]}/health")
        if "feedback" in services and env.get("FEEDBACK_AGENTS_FILE"):
            console.print(
                f"support console: http://127.0.0.1:{SERVICES['feedback']}/console "
                "(demo login demo / demo — local use only)"
            )
        if "referrals" in services:
            console.print(
                f"referral analytics: http://127.0.0.1:{SERVICES['referrals']}/analytics "
                f"(any user name, password {env['API_TOKEN']!r})"
            )
        console.print("publish a sample customer and order: [bold]make publish-sample[/]; stop: Ctrl-C")
        manager.loop()
        return int(manager.returncode or 0)
    finally:
        if broker is not None:
            broker.stop()
