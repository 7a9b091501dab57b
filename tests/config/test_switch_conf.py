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
    path = render(settings(host="10.1.2.3", port=8022, password="nn-12345-ESL-pass", inbound_acl="esl_engine"),
                  tmp_path)[0]
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


def test_service_numbers_110_and_feature_codes_are_parked_for_the_engine(tmp_path: Path) -> None:
    example = config.load(Path(__file__).parents[2] / "examples" / "nanning-12345.yaml")
    example = example.model_copy(update={"ivr": example.ivr.model_copy(update={"prompt_cache": str(tmp_path / "p")})})
    render(example, tmp_path)
    public = ET.parse(tmp_path / "dialplan" / "public" / "00_hotline.xml").getroot()
    patterns = {ext.get("name"): ext.find("condition").get("expression") for ext in public.iter("extension")}
    assert patterns == {"hotline_referred": ".", "hotline_service_numbers": "^(12345|077112345|077196333)$",
                        "hotline_from_110": "^(96110110)$", "hotline_safety_net": "^(hotline_safety_net)$"}
    for context in ("public", "default"):  # a caller a softphone REFERs away is parked for the engine, first
        first = next(ET.parse(tmp_path / "dialplan" / context / "00_hotline.xml").getroot().iter("extension"))
        conditions = [(c.get("field"), c.get("expression")) for c in first.iter("condition")]
        assert first.get("name") == "hotline_referred" and conditions == [("${hotline_queue}", "."),
                                                                           ("${sip_refer_to}", ".")]
        assert [a.get("application") for a in first.iter("action")] == ["park"]
    for name in ("hotline_service_numbers", "hotline_from_110"):  # ringback, the net armed, then parked
        actions = [(a.get("application"), a.get("data")) for a in next(
            ext for ext in public.iter("extension") if ext.get("name") == name).iter("action")]
        assert actions == [("ring_ready", None), ("sched_transfer", "+20 hotline_safety_net XML public"), ("park", None)]
    net = [(a.get("application"), a.get("data")) for a in next(
        ext for ext in public.iter("extension") if ext.get("name") == "hotline_safety_net").iter("action")]
    assert net[0] == ("set", "hotline_net=fired") and net[-2:] == [("bridge", "sofia/gateway/pstn/07712345000"),
                                                                   ("hangup", "NORMAL_CLEARING")]
    assert net[2][0] == "playback" and Path(net[2][1]).is_file()  # the message is spoken into the prompt cache
    default = ET.parse(tmp_path / "dialplan" / "default" / "00_hotline.xml").getroot()
    codes = next(ext for ext in default.iter("extension") if ext.get("name") == "hotline_feature_codes")
    expression = codes.find("condition").get("expression")
    import re
    assert all(re.fullmatch(expression, code) for code in ("*20", "*21", "*222", "*23"))
    assert not re.fullmatch(expression, "*2299") and not re.fullmatch(expression, "12345")
    supervising = next(ext for ext in default.iter("extension") if ext.get("name") == "hotline_supervisor_codes")
    expression = supervising.find("condition").get("expression")
    assert re.fullmatch(expression, "*311001") and re.fullmatch(expression, "*331004")
    assert not re.fullmatch(expression, "*31") and not re.fullmatch(expression, "*311001;x")
    # a softphone dialling a unit (its own consultation, before an attended transfer) goes out as the toolbar would
    to_110 = next(ext for ext in default.iter("extension") if ext.get("name") == "hotline_linkage_110")
    assert to_110.find("condition").get("expression") == "^(110)$"
    assert [(a.get("application"), a.get("data")) for a in to_110.iter("action")] == [
        ("set", "effective_caller_id_number=12345"), ("bridge", "sofia/gateway/pstn/110")]


def test_agents_with_a_password_become_sip_users_and_nothing_escapes_its_attribute(tmp_path: Path) -> None:
    password = """pw"/><user id="evil">&x"""
    settings = config.Settings.model_validate({
        "centre": {"name": "t"}, "switch": {"password": "a-strong-password-1"},
        "acd": {"agents": {"1001": {"contact": "user/1001", "skills": {"general": 5}, "name": "黄丽",
                                    "sip_password": password},
                           "1002": {"contact": "user/1002", "skills": {"general": 5}}}}})
    render(settings, tmp_path)
    users = ET.parse(tmp_path / "directory" / "default" / "hotline_agents.xml").getroot().findall("user")
    assert [u.get("id") for u in users] == ["1001"]
    assert users[0].find("params/param").get("value") == password


def test_an_agent_name_that_freeswitch_would_expand_is_refused() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="expand"):
        config.Settings.model_validate({
            "centre": {"name": "t"}, "switch": {"password": "a-strong-password-1"},
            "acd": {"agents": {"1001": {"contact": "user/1001", "skills": {"general": 5}, "name": "${system(id)}"}}}})


def test_render_command_writes_the_files(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    example = Path(__file__).parents[2] / "examples" / "nanning-12345.yaml"
    result = CliRunner().invoke(main, ["--config", str(example), "switch-conf", "render", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == 5 and (tmp_path / "out" / "hotline" / "conference_profile.xml").exists()


def test_an_agent_whose_sip_user_is_someone_elses_in_the_switch_is_found(tmp_path: Path, switch) -> None:
    """FreeSWITCH keeps the first definition of a user id: with the stock example users (1000-1019) installed
    beside the rendered directory, agent 1001's own password and hotline_agent_id are ignored. The switch is asked
    (``user_data``), here the double with a stock 1001.xml loaded first."""
    from switch_conf import directory

    settings = config.Settings.model_validate({
        "centre": {"name": "t"}, "switch": {"password": "a-strong-password-1"},
        "acd": {"agents": {a: {"contact": f"user/{a}", "skills": {"general": 5}, "sip_password": f"pw-{a}-chosen"}
                           for a in ("1001", "8001", "8002")} | {"8003": {"contact": "user/8003", "skills": {"general": 5}}}}})
    stock = tmp_path / "1001.xml"
    stock.write_text('<include><user id="1001"><params><param name="password" value="1234"/></params></user></include>')
    switch.load_directory(str(stock))
    render(settings, tmp_path)
    switch.load_directory(str(tmp_path / "directory" / "default" / "hotline_agents.xml"))
    del switch.directory["8002"]  # rendered, not installed yet
    findings = directory.check(settings, lambda command: switch.api(command))
    assert [(f.agent, f.collides) for f in findings] == [("1001", True), ("8002", False)]
    assert "conf/directory/default/10NN.xml" in str(findings[0]) and "reloadxml" in str(findings[1])
    assert directory.unrendered(settings) == ["8003"]
