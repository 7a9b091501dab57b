// The supervisors' console: the floor from the engine's event stream (fetch with the token in a header, never in
// a URL), rendered as tables and a chart; buttons call the same API as `hotline supervise` and `hotline agent`.
"use strict";

const STATES = {ready: "就绪", not_ready: "置忙", offered: "振铃", on_call: "通话中", wrap_up: "话后处理",
                logged_out: "签出"};
const REASONS = {rest: "休息", meal: "用餐", training: "培训", meeting: "会议", no_answer: "未接", busy: "忙",
                 rejected: "拒接", not_registered: "话机未注册", offer_failed: "呼叫失败"};
const MODES = {listen: "监听", whisper: "耳语", barge: "强插"};
const $ = (selector) => document.querySelector(selector);

let token = sessionStorage.getItem("hotline-token") || "";
let floor = null;          // the latest snapshot
let offsetMs = 0;          // the engine's clock minus ours, so durations count on the engine's clock
let stream = null;         // the AbortController of the open stream
let chart = null;

function text(value) {     // every value from the engine goes into the page as text, never as markup
  const span = document.createElement("span");
  span.textContent = value == null ? "" : String(value);
  return span;
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.append(value instanceof Node ? value : text(value));
  if (className) td.className = className;
  return td;
}

function duration(sinceMs) {
  if (!sinceMs) return "";
  const s = Math.max(0, Math.floor((Date.now() + offsetMs - sinceMs) / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function percent(value) {
  return value == null ? "—" : `${(value * 100).toFixed(1)}%`;
}

async function call(method, path, body) {
  const response = await fetch(path, {method, headers: {"Authorization": `Bearer ${token}`,
                                                        "Content-Type": "application/json"},
                                      body: body ? JSON.stringify(body) : undefined});
  const result = await response.json();
  $("#notice").textContent = response.ok ? "已执行" : `未执行：${result.error}`;
  return response.ok;
}

function button(label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = label;
  b.addEventListener("click", action);
  return b;
}

function actions(agent) {
  const box = document.createElement("span");
  if (agent.call) {
    if (floor.can_listen) {
      for (const [mode, label] of Object.entries(MODES)) {
        box.append(button(label, () => call("POST", `/supervise/${agent.id}/${mode}`)));
      }
      if (agent.listening.length) {
        box.append(button("接管", () => call("POST", `/supervise/${agent.id}/takeover`)));
        box.append(button("停止监听", () => call("POST", `/supervise/${agent.id}/stop`)));
      }
    }
    box.append(button("强拆", () => {
      if (confirm(`强拆 ${agent.id} 的通话？`)) call("POST", `/supervise/${agent.id}/hangup`);
    }));
  }
  if (agent.state !== "ready") box.append(button("置闲", () => call("POST", `/agents/${agent.id}/ready`)));
  const reason = document.createElement("select");
  for (const code of floor.reasons) reason.add(new Option(REASONS[code] || code, code));
  box.append(reason, button("置忙", () => call("POST", `/agents/${agent.id}/not_ready`, {reason: reason.value})));
  if (agent.state !== "logged_out") box.append(button("签出", () => call("POST", `/agents/${agent.id}/logout`)));
  return box;
}

function renderAgents() {
  const body = $("#agents tbody");
  body.replaceChildren();
  for (const agent of floor.agents) {
    const row = body.insertRow();
    row.dataset.agent = agent.id;
    row.dataset.state = agent.state;
    cell(row, agent.id);
    cell(row, agent.name);
    cell(row, agent.team || "");
    cell(row, STATES[agent.state] || agent.state, `state state-${agent.state}`);
    cell(row, REASONS[agent.reason] || agent.reason || "");
    cell(row, duration(agent.since_ms), "since");
    cell(row, agent.call ? agent.call.caller : "");
    cell(row, agent.call ? duration(agent.call.answered_ms) : "", "talk");
    cell(row, agent.listening.map((s) => `${s.supervisor}（${MODES[s.mode] || s.mode}）`).join("、"));
    cell(row, actions(agent), "actions");
  }
}

function renderLines(selector, lines, key) {   // queues, or operation centres (分中心): the same columns
  const body = $(`${selector} tbody`);
  body.replaceChildren();
  for (const line of lines) {
    const row = body.insertRow();
    row.dataset[key] = line[key];
    cell(row, line[key]);
    cell(row, line.waiting);
    cell(row, `${line.longest_wait_s} 秒`);
    cell(row, line.answered_today);
    cell(row, line.abandoned_today);
    cell(row, floor.thresholds.map((t) => percent(line[`answered_within_${t}s_today`])).join(" / "));
  }
}

function renderQueues() {
  for (const head of document.querySelectorAll(".rates")) {
    head.textContent = floor.thresholds.map((t) => `${t}秒接通率`).join(" / ");
  }
  renderLines("#queues", floor.queues, "queue");
  $("#tenants-section").hidden = floor.tenants.length < 2;  // one centre: the queues say it all
  renderLines("#tenants", floor.tenants, "tenant");
}

function renderAlerts() {      // keyword alerts from the transcripts (质检告警), newest first
  $("#alerts-section").hidden = floor.alerts.length === 0;
  const body = $("#alerts tbody");
  body.replaceChildren();
  const zone = floor.timezone;
  for (const alert of floor.alerts) {
    const row = body.insertRow();
    row.dataset.call = alert.call;
    cell(row, new Date(alert.at_ms).toLocaleTimeString("zh-CN", {timeZone: zone, hour12: false}));
    cell(row, alert.categories.join("、"));
    cell(row, alert.words.join("、"));
    cell(row, alert.agent);
    cell(row, alert.queue);
    cell(row, alert.caller);
    cell(row, alert.call);
  }
}

function renderChart() {
  const c = floor.chart;
  $("#chart-title").textContent = `今日话务量与${c.threshold_s[0]}秒接通率（每半小时）`;
  const data = [c.start_ms.map((ms) => ms / 1000), c.requests,
                c.service_level.map((v) => (v == null ? null : v * 100))];
  if (chart) {
    chart.setData(data);
    return;
  }
  const zone = floor.timezone;  // the centre's day, wherever the browser is
  chart = new uPlot({width: Math.min(1100, document.body.clientWidth - 60), height: 240,
                     tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
                     series: [{}, {label: "人工请求", stroke: "#0b4f8a", fill: "rgba(11,79,138,.15)", scale: "n"},
                              {label: "接通率 %", stroke: "#2e8b57", scale: "%"}],
                     axes: [{}, {scale: "n", label: "次"}, {scale: "%", side: 1, label: "%"}],
                     scales: {"%": {range: [0, 100]}}}, data, $("#chart"));
}

function render() {
  $("#centre").textContent = `${floor.centre} · 班长监控台`;
  renderAgents();
  renderQueues();
  renderAlerts();
  renderChart();
}

function showLogin(message) {
  if (stream) stream.abort();
  floor = null;
  $("#floor").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#link").className = "link down";
  $("#link").textContent = "未连接";
}

async function watch() {
  stream = new AbortController();
  let response;
  try {
    response = await fetch("/floor/events", {headers: {"Authorization": `Bearer ${token}`}, signal: stream.signal});
  } catch (error) {
    return retry();
  }
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem("hotline-token");
    return showLogin("令牌无效，请重新输入");
  }
  if (!response.ok) return retry();
  $("#login").hidden = true;
  $("#logout").hidden = false;
  $("#link").className = "link up";
  $("#link").textContent = "实时";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = message.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
        if (!data) continue;
        floor = JSON.parse(data);
        offsetMs = floor.at_ms - Date.now();
        $("#floor").hidden = false;
        render();
      }
    }
  } catch (error) {
    if (error.name === "AbortError") return;
  }
  retry();
}

function retry() {
  $("#link").className = "link down";
  $("#link").textContent = "重连中";
  setTimeout(() => { if (token) watch(); }, 2000);
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("#token").value.trim();
  sessionStorage.setItem("hotline-token", token);
  watch();
});
$("#logout").addEventListener("click", () => {
  token = "";
  sessionStorage.removeItem("hotline-token");
  showLogin();
});
setInterval(() => {            // the clocks on the page tick; the data itself only ever comes from the stream
  if (!floor) return;
  for (const row of document.querySelectorAll("#agents tbody tr")) {
    const agent = floor.agents.find((a) => a.id === row.dataset.agent);
    if (!agent) continue;
    row.querySelector(".since").textContent = duration(agent.since_ms);
    row.querySelector(".talk").textContent = agent.call ? duration(agent.call.answered_ms) : "";
  }
}, 1000);
if (token) watch(); else showLogin();
