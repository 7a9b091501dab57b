"""``hotline report`` as an operations manager runs it: the month's figures under the tenders' names in a table, as
CSV that agrees with the SQL, as an Excel workbook with a sheet per view and native charts, and as a PDF whose
Chinese text is real text in an embedded Noto CJK font; and clear refusals of a backwards range or a file format
with nowhere to go."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from calls.record import CallTimeline
from cli import main
from tickets.store import TicketStore

DAY = dt.date(2026, 11, 30)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A centre (南宁 12345, two tenants) whose store holds a day of calls: four answered (5, 15, 25 and 45 s),
    one quick abandon, one abandon after 40 s, called back within the day, one lost in the switch."""
    url = f"sqlite:///{tmp_path}/tickets.db"
    store = TicketStore(url)
    store.migrate()
    nine = int(dt.datetime.combine(DAY, dt.time(9), ZoneInfo("Asia/Shanghai")).timestamp() * 1000)
    calls = [CallTimeline(f"a{n}", "13800138000", "12345", nine + n * 60_000, queue_entry_ms=nine + n * 60_000 + 1000,
                          queue="general", answered_ms=nine + n * 60_000 + 1000 + wait, agent="1001",
                          hangup_ms=nine + n * 60_000 + 100_000, exit_reason="answered", tenant="nanning",
                          survey={"attitude": "满意", "efficiency": "不满意", "result": "not_rated"})
             for n, wait in enumerate((5_000, 15_000, 25_000, 45_000))]
    calls += [CallTimeline("q", "13900139000", "12345", nine, queue_entry_ms=nine + 1000, queue="general",
                           hangup_ms=nine + 3000, exit_reason="abandoned", tenant="nanning"),
              CallTimeline("b", "13700137000", "12345", nine, queue_entry_ms=nine + 1000, queue="general",
                           hangup_ms=nine + 41_000, exit_reason="abandoned", tenant="wuming"),
              CallTimeline("l", "13600136000", "12345", nine, exit_reason="system_failure", hangup_ms=nine + 500)]
    store.save_all([(call, None) for call in calls])
    store.called_back("b", "1001", "回拨已联系", nine + 3_600_000)
    path = tmp_path / "hotline.yaml"
    path.write_text(f"centre: {{name: 南宁12345}}\nswitch: {{password: a-strong-password-1}}\n"
                    f"tickets: {{url: '{url}'}}\n", encoding="utf-8")
    return path


def hotline(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), "report", "--from", str(DAY), "--to", str(DAY), *args])


def test_the_table_shows_the_tender_figures_under_their_names_each_defined_once(config: Path) -> None:
    shown = hotline(config)
    assert shown.exit_code == 0, shown.output
    line = {name: rest.split() for name, rest in re.findall(r"^(\S+) \([^)]*\)\s+(.*)$", shown.output, re.M)}
    # 5 requests less 1 quick abandon decide the rates; 2 answered within 20 s, 3 within 30 s.
    assert line["20秒接通率"] == ["40.0%"] and line["30秒接通率"] == ["60.0%"] and line["接通率"] == ["66.7%"]
    assert line["呼损率"] == ["14.3%"] and line["漏接回拨率"] == ["100.0%"] and line["秒挂"] == ["1"]
    assert shown.output.count("answered within N s of their queue entry") == 1  # the three rates share it


def test_csv_by_tenant_lists_every_row_and_the_total(config: Path) -> None:
    shown = hotline(config, "--by", "tenant", "--format", "csv")
    rows = list(csv.reader(io.StringIO(shown.output)))
    assert rows[0][0] == "tenant" and "20秒接通率 answered within 20 s" in rows[0]
    column = rows[0].index("人工请求量 human requests")
    # The configured tenant (the demo settings' "default") has its line with no call; "-" is the call lost before
    # the IVR chose a tenant.
    assert [(row[0], row[column]) for row in rows[1:]] == [("default", "0"), ("nanning", "5"), ("wuming", "1"),
                                                          ("-", "0"), ("合计 total", "6")]


def test_excel_has_a_sheet_per_view_and_native_charts(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "monthly.xlsx"
    shown = hotline(config, "--format", "xlsx", "-o", str(out))
    assert shown.exit_code == 0 and shown.output.startswith(f"{out}: xlsx report")
    with zipfile.ZipFile(out) as book:
        workbook = book.read("xl/workbook.xml").decode()
        sheets = re.findall(r'<sheet name="([^"]+)"', workbook)
        charts = [name for name in book.namelist() if name.startswith("xl/charts/chart")]
        strings = book.read("xl/sharedStrings.xml").decode()
    assert sheets == ["总览 summary", "按日 by day", "按小时 by hour", "按周 by week", "按月 by month", "按队列 by queue",
                      "按分中心 by tenant", "按坐席 by agent", "定义 definitions"]
    assert len(charts) >= 6 and "20秒接通率" in strings and "漏接回拨率" in strings


def test_the_pdf_has_its_chinese_as_text_in_an_embedded_cjk_font(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "monthly.pdf"
    assert hotline(config, "--format", "pdf", "-o", str(out)).exit_code == 0
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, check=True, text=True).stdout
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, check=True, text=True).stdout
    assert "南宁12345: 2026-11-30" in text and "20秒接通率" in text and "按坐席 by agent" in text
    assert re.search(r"Noto-Sans-CJK-SC\s.*\syes\s+yes", fonts), fonts  # embedded, subset


@pytest.mark.parametrize("args, problem", [
    (["--from", "2026-12-02", "--to", "2026-12-01"], "2026-12-01 is before --from 2026-12-02"),
    (["--from", "2026-12-01", "--to", "2026-12-01", "--format", "pdf"], "the pdf report needs a file to go to"),
    (["--from", "2026-13-01", "--to", "2026-12-01"], "'2026-13-01' does not match the format"),
    (["--from", "2026-12-01", "--to", "2026-12-01", "--format", "xlsx", "-o", "x.xlsx", "--by", "day"],
     "the xlsx report holds every view: leave --by out"),
])
def test_bad_requests_are_refused_in_one_line(config: Path, args: list[str], problem: str) -> None:
    shown = CliRunner().invoke(main, ["--config", str(config), "report", *args])
    assert shown.exit_code == 2 and problem in shown.output and "Traceback" not in shown.output
