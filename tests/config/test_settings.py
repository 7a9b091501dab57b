"""The defaults run the demo, the shipped example is valid and complete, and loaded settings are exact."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Callable

import pydantic
import pytest
import yaml

import config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nanning-12345.yaml"
PASSWORD = "s3cret-Nanning-12345"
MINIMAL = f"""\
centre:
  name: 南宁市12345政务服务便民热线
switch:
  password: "{PASSWORD}"
  reconnect:
    initial: 1
"""


def test_defaults_are_a_valid_loopback_demo() -> None:
    settings = config.defaults()
    assert ipaddress.ip_address(settings.switch.host).is_loopback
    secret = settings.switch.password.get_secret_value()
    assert len(secret) >= 12 and secret.lower() != "cluecon"
    assert config.load(None) is settings, "one process, one demo password"


def test_defaults_revalidate() -> None:
    settings = config.defaults()
    data = settings.model_dump()
    data["switch"]["password"] = settings.switch.password.get_secret_value()
    assert config.Settings.model_validate(data) == settings


def test_loaded_values_and_defaults(write: Callable[[str], Path]) -> None:
    settings = config.load(write(MINIMAL))
    assert settings.centre.name == "南宁市12345政务服务便民热线"
    assert settings.switch.password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings), "the password must not leak through repr or logs"
    assert (settings.switch.port, settings.switch.heartbeat_timeout, settings.switch.inbound_acl) == (
        8021, 60.0, "loopback.auto")
    assert settings.switch.reconnect.initial == 1.0 and settings.switch.reconnect.jitter == 0.2
    assert str(settings.outbound_socket.listen) == "127.0.0.1:8084"
    assert settings.telemetry.listen == config.Endpoint("127.0.0.1", 9345)


def test_ipv6_listen_address_round_trips(write: Callable[[str], Path]) -> None:
    settings = config.load(write(MINIMAL + 'outbound_socket:\n  listen: "[fd00::5]:8084"\n'))
    assert settings.outbound_socket.listen == config.Endpoint("fd00::5", 8084)
    assert settings.model_dump(mode="json")["outbound_socket"]["listen"] == "[fd00::5]:8084"


def test_settings_are_frozen(write: Callable[[str], Path]) -> None:
    settings = config.load(write(MINIMAL))
    with pytest.raises(pydantic.ValidationError):
        settings.switch.port = 9999  # type: ignore[misc]


def test_example_validates() -> None:
    settings = config.load(EXAMPLE)
    assert "南宁" in settings.centre.name
    assert "12345" in settings.centre.service_numbers
    assert "CUSTOM sofia::register" in settings.switch.events


def test_example_spells_out_every_key() -> None:
    """The example is the operator's reference: every section and key of the schema appears in it."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))

    def missing(model: type[pydantic.BaseModel], section: dict[str, Any], prefix: str) -> list[str]:
        absent = [f"{prefix}{name}" for name in model.model_fields if name not in section]
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, pydantic.BaseModel):
                absent += missing(field.annotation, section.get(name) or {}, f"{prefix}{name}.")
        return absent

    assert missing(config.Settings, data, "") == []


def test_a_retention_for_a_tenant_that_does_not_exist_is_named() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"recorder\.retention\.nowhere: no tenant of that name in "
                                                        r"ivr\.tenants \(default\)"):
        config.Settings.model_validate({"centre": {"name": "t"}, "switch": {"password": "a-strong-password-1"},
                                        "recorder": {"retention": {"nowhere": 30}}})
