"""`make demo`: `make up` with short timings, a storefront simulator and a live summary until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.live import Live

from womctl.agent import ConsoleAgent
from womctl.storefront import Storefront, to_record
from womctl.summary import TOPICS, Tally, follow, render
from womctl.up import SERVICES

__all__ = ["DEMO_RULES", "demo_env", "run_demo"]

DEMO_RULES = Path(__file__).resolve().parents[3] / "demo"
_SHORT_TIMINGS = {
    "RELEASE_EVERY_SECONDS": "5", "BIRTHDAY_EVERY_SECONDS": "10", "EXPIRY_EVERY_SECONDS": "30",
    "BREACH_EVERY_SECONDS": "5", "SCHEDULE_EVERY_SECONDS": "10",
}  # fmt: skip


def demo_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of `make up` for the demo: the demo rules files and short job intervals."""
    env = dict(base)
    for service in SERVICES:
        env.setdefault(f"{service.upper()}_RULES_FILE", str(DEMO_RULES / f"{service}.rules.yaml"))
    for name, value in _SHORT_TIMINGS.items():
        env.setdefault(name, value)
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _wait_healthy(up: subprocess.Popen[bytes], console: Console, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(SERVICES)
    with console.status("waiting for the broker and the four services…"):
        while waiting:
            if up.poll() is not None:
                raise RuntimeError(f"`womctl dev up` exited with {up.returncode}; see var/demo.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy in {timeout:.0f}s: {', '.join(waiting)}; see var/demo.log")
            waiting = {name: port for name, port in waiting.items() if not _healthy(port)}
            time.sleep(0.5)
    console.print("[green]all four services are healthy[/]")


async def _simulate(bootstrap: str, rate: float, duration: float, seed: int, console: Console) -> None:
    storefront = Storefront(seed=seed, run=f"demo{uuid.uuid4().hex[:4]}")
    tally, published, worked = Tally(), Counter[str](), Counter[str]()
    # a support agent gets to most cases 10 to 60 seconds after they open: some in time, some late
    agent = ConsoleAgent(f"http://127.0.0.1:{dict(SERVICES)['feedback']}", "demo", "demo", seed=seed)
    to_work: dict[str, float] = {}  # case id → when the agent gets to it
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await consumer.start()
    await producer.start()
    try:
        await consumer.topics()  # the cluster's metadata
        consumer.assign([TopicPartition(topic, partition) for topic in TOPICS
                         for partition in consumer.partitions_for_topic(topic) or ()])  # fmt: skip
        await consumer.seek_to_end()  # only what happens from now on

        loop = asyncio.get_running_loop()

        def learn(topic: str, value: bytes | None) -> None:
            if topic == "referrals.code.issued.v1" and value:
                data = json.loads(value)
                storefront.learn_code(data["customer_id"], data["code"])
            elif topic == "feedback.case.opened.v1" and value and agent.random.random() < 0.7:
                to_work[json.loads(value)["case_id"]] = loop.time() + agent.random.uniform(10, 60)

        async def work_cases() -> None:
            for case_id, due in sorted(to_work.items(), key=lambda item: item[1]):
                if due > loop.time():
                    break
                del to_work[case_id]
                how = agent.decide()
                try:
                    done = await agent.resolve(case_id, how)
                except (httpx.HTTPError, RuntimeError):
                    worked["failed"] += 1
                else:
                    outcome = "resolved with store credit" if how.amount else "resolved"
                    worked[outcome if done else "already taken by another agent"] += 1

        start = loop.time()
        next_at, end = start, start + duration
        with Live(render(tally, published, agent=worked), console=console, refresh_per_second=2) as live:
            while loop.time() < end:
                while loop.time() >= next_at and next_at < end:
                    step = storefront.step()
                    published[step.kind] += 1
                    for item in step.records:
                        record = to_record(item)
                        await producer.send_and_wait(record.topic, record.value, key=record.key,
                                                     headers=record.headers)  # fmt: skip
                    next_at += 1 / rate
                await follow(consumer, tally, timeout_ms=250, seen=learn)
                await work_cases()
                elapsed = int(loop.time() - start)
                title = f"wom demo — {elapsed}s of {duration:.0f}s"
                live.update(render(tally, published, title=title, agent=worked))
    finally:
        if not console.is_terminal:
            console.line()  # the last screen ends without a line break when not on a terminal
        await agent.close()
        await producer.stop()
        await consumer.stop()


def run_demo(
    *,
    rate: float = 5,
    duration: float = 600,
    seed: int = 7,
    broker_port: int = 9092,
    smtp_port: int = 1025,
    mail_dir: Path = Path("var/mail"),
    console: Console | None = None,
) -> int:
    """Start `womctl dev up` (output in var/demo.log), then simulate and summarise; stop it all at the end."""
    console = console or Console()
    env = demo_env(os.environ)
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{broker_port}"
    log_path = Path("var/demo.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "womctl", "dev", "up", "--broker-port", str(broker_port),
             "--smtp-port", str(smtp_port), "--mail-dir", str(mail_dir)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us: the simulator stops first, then `up`
        )  # fmt: skip
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
        code = 0
        try:
            _wait_healthy(up, console)
            asyncio.run(_simulate(bootstrap, rate, duration, seed, console))
        except KeyboardInterrupt:
            console.print("stopping…")
        except Exception as error:  # whatever failed, everything is stopped below
            console.print(f"[red]{type(error).__name__}: {error}[/]")
            code = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
            if up.poll() is None:
                up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        console.print(f"services, SMTP catcher and broker stopped (log: {log_path})")
        return code
