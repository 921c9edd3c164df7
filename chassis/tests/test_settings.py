import pytest
from pydantic import ValidationError
from wom_chassis import ServiceSettings
from wom_chassis.settings import HttpUrlSetting


def test_defaults_follow_the_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CONSUMER_GROUP", raising=False)
    settings = ServiceSettings(service_name="rewards")
    assert settings.database_url == "sqlite+aiosqlite:///var/rewards.db"
    assert settings.consumer_group == "wom-rewards"
    assert settings.dead_letter_topic == "rewards.dlq"
    assert settings.kafka_security() is None


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "true")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db/wom_rewards")
    settings = ServiceSettings(service_name="rewards")
    assert settings.kafka_enable_idempotence is True
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.kafka_client_options()["bootstrap_servers"] == "kafka-1:9092,kafka-2:9092"


def test_a_bad_value_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUME_BATCH_SIZE", "0")
    with pytest.raises(ValidationError, match="consume_batch_size"):
        ServiceSettings(service_name="rewards")


def test_sasl_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings(service_name="rewards").kafka_security()
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "wom")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    options = ServiceSettings(service_name="rewards").kafka_client_options()
    assert options["sasl_plain_username"] == "wom" and options["security_protocol"] == "SASL_SSL"


class _Linked(ServiceSettings):
    public_url: HttpUrlSetting = "http://127.0.0.1:8000"
    webhook_url: HttpUrlSetting | None = None


@pytest.mark.parametrize("url", ["ftp://shop.example", "https://", "https://a shop.example", "shop.example"])
def test_a_url_setting_refuses_what_is_not_an_http_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for key in ("PUBLIC_URL", "WEBHOOK_URL"):
        with monkeypatch.context() as env:
            env.setenv(key, url)
            with pytest.raises(ValidationError, match=key.lower()):
                _Linked()


def test_a_url_setting_keeps_what_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.com/wom/")
    settings = _Linked()
    assert settings.public_url == "https://shop.example.com/wom/" and settings.webhook_url is None
