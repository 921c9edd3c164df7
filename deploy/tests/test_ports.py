"""The services' HTTP ports are one table, `womctl.up.SERVICES`: the settings' defaults, the
compose file, the dev overlay and the READMEs, which cannot import it, are held to it here; and
the settings' names are one vocabulary."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from feedback.settings import FeedbackSettings
from outreach.settings import OutreachSettings
from referrals.settings import ReferralsSettings
from rewards.settings import RewardsSettings
from wom_chassis import ServiceSettings
from womctl.up import SERVICES

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "referrals": ReferralsSettings,
    "rewards": RewardsSettings,
    "outreach": OutreachSettings,
    "feedback": FeedbackSettings,
}
CONTAINER_PORT = 8000  # every image listens here (HTTP_PORT); the host maps the table's port to it
# mail catcher, PostgreSQL, Mailpit, storefront, the broker and its loopback listener in compose
OTHER_PORTS = {1025, 5432, 8025, 8080, 9092, 9094}
LOCAL_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):(\d{4,5})")


def test_the_settings_default_to_the_table() -> None:
    assert set(SETTINGS) == set(SERVICES)
    for name, cls in SETTINGS.items():
        fields = cls.model_fields
        assert fields["http_port"].default == SERVICES[name], name
        public_url = fields.get(f"{name}_public_url")
        if public_url is not None:
            assert public_url.default == f"http://127.0.0.1:{SERVICES[name]}", name


def test_compose_and_the_dev_overlay_publish_the_table() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, port in SERVICES.items():
        assert compose[name]["ports"] == [f"127.0.0.1:{port}:{CONTAINER_PORT}"], name
        url = compose[name]["environment"].get(f"{name.upper()}_PUBLIC_URL")
        if url is not None:
            assert f"localhost:{port}}}" in url, name
    overlay = (ROOT / "deploy/k8s/overlays/dev/kustomization.yaml").read_text()
    for name in ("referrals", "outreach"):
        assert f"{name.upper()}_PUBLIC_URL=http://localhost:{SERVICES[name]}\n" in overlay


def test_the_readmes_name_the_table_s_ports() -> None:
    ports = sorted(SERVICES.values())
    readme = (ROOT / "README.md").read_text()
    row = " · ".join(f"{port} {name}" for name, port in SERVICES.items())
    assert f"`127.0.0.1`, {row} |" in readme
    span = f"127.0.0.1:{ports[0]}–{ports[-1]}"
    assert span in readme and span in (ROOT / "deploy/README.md").read_text()
    documents = [ROOT / "README.md", ROOT / "deploy/README.md", ROOT / "deploy/compose.env.example"]
    for path in documents:
        named = {int(port) for port in LOCAL_PORT.findall(path.read_text())}
        assert named <= {*ports, *OTHER_PORTS}, path
    for name, port in SERVICES.items():
        text = (ROOT / f"services/{name}/README.md").read_text()
        named = {int(found) for found in LOCAL_PORT.findall(text)}
        assert port in named and named <= {port, *OTHER_PORTS}, name


def test_the_settings_share_one_vocabulary() -> None:
    """How often something runs is `<what>_every_seconds`; a service's own secret is
    `<service>_<purpose>_secret`; credentials of a connection stay `*_password` or `api_token`."""
    for name, cls in SETTINGS.items():
        for field, info in cls.model_fields.items():
            assert not re.search(r"interval|_key$", field), field
            if "SecretStr" in str(info.annotation) and not field.endswith("_password"):
                assert field == "api_token" or re.fullmatch(rf"{name}_[a-z]+(_[a-z]+)*_secret", field), field
