"""event_socket.conf.xml rendered from the settings: well-formed, same password, explicit ACL, private address."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import config
from switch_conf.render import render


def settings(**switch: object) -> config.Settings:
    return config.Settings.model_validate({"centre": {"name": "南宁市12345政务服务便民热线"},
                                           "switch": switch})


def params(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    assert root.tag == "configuration" and root.get("name") == "event_socket.conf"
    return {param.get("name", ""): param.get("value", "") for param in root.iter("param")}


def test_renders_the_configured_socket(tmp_path: Path) -> None:
    (path,) = render(settings(host="10.1.2.3", port=8022, password="nn-12345-ESL-pass", inbound_acl="esl_engine"),
                     tmp_path)
    assert path == tmp_path / "autoload_configs" / "event_socket.conf.xml"
    values = params(path)
    assert values["listen-ip"] == "10.1.2.3"
    assert values["listen-port"] == "8022"
    assert values["password"] == "nn-12345-ESL-pass"
    assert values["apply-inbound-acl"] == "esl_engine"


def test_demo_defaults_render_loopback_acl_and_the_generated_password(tmp_path: Path) -> None:
    demo = config.defaults()
    values = params(render(demo, tmp_path)[0])
    assert values["listen-ip"] == "127.0.0.1"
    assert values["apply-inbound-acl"] == "loopback.auto"
    assert values["password"] == demo.switch.password.get_secret_value() != "ClueCon"
    assert "{{" not in (tmp_path / "autoload_configs" / "event_socket.conf.xml").read_text(encoding="utf-8")


def test_password_is_xml_escaped(tmp_path: Path) -> None:
    password = """<a&b>"c'd"</param>"""
    values = params(render(settings(password=password), tmp_path)[0])
    assert values["password"] == password


def test_localhost_becomes_an_ip_and_a_host_name_is_refused(tmp_path: Path) -> None:
    assert params(render(settings(host="localhost", password="x" * 12), tmp_path)[0])["listen-ip"] == "127.0.0.1"
    with pytest.raises(ValueError, match="switch.host 'fs.internal' is a host name"):
        render(settings(host="fs.internal", password="x" * 12), tmp_path)
