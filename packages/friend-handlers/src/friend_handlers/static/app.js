// The page's behaviour: send friend actions through the write API (POST friends) and poll
// each player's list from the read API (GET players/{playerId}/friends). The page is served by
// the same API, so every URL is relative to where this script came from: one origin, no CORS.
const api = new URL(".", import.meta.url);
const POLL_MS = 1000;
const MAX_PAGES = 10;
const LOG_LENGTH = 8;

const byId = (id) => document.getElementById(id);
const playerInputs = [...document.querySelectorAll("input.player")];

function players() {
  // Exactly as typed (an id with a space at an end is refused by the API, not trimmed here).
  return [...new Set(playerInputs.map((input) => input.value).filter((value) => value !== ""))];
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function fillSelect(select, names, fallback) {
  const chosen = names.includes(select.value) ? select.value : fallback;
  select.replaceChildren(...names.map((name) => element("option", name)));
  select.value = chosen ?? "";
}

function refreshChoices() {
  const names = players();
  fillSelect(byId("from"), names, names[0]);
  fillSelect(byId("to"), names, names[1] ?? names[0]);
}

async function answerOf(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

function showStatus(text, ok) {
  const status = byId("status");
  status.textContent = text;
  status.className = ok ? "ok" : "error";
  const entry = element("li", `${new Date().toLocaleTimeString()}  ${text}`);
  const log = byId("log");
  log.prepend(entry);
  while (log.children.length > LOG_LENGTH) log.lastChild.remove();
}

async function send(event) {
  event.preventDefault();
  const message = {
    player_id: byId("from").value,
    friend_id: byId("to").value,
    friend_action: byId("action").value,
  };
  const what = `${message.friend_action} ${message.player_id} \u2192 ${message.friend_id}`;
  try {
    const response = await fetch(new URL("friends", api), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(message),
    });
    const answer = await answerOf(response);
    if (response.ok) {
      showStatus(`${response.status} queued: ${what} (message ${answer.messageId})`, true);
    } else {
      showStatus(`${response.status} refused: ${answer.message ?? "no message"} (${what})`, false);
    }
  } catch (error) {
    showStatus(`not sent: ${error.message} (${what})`, false);
  }
  poll();
}

async function rowsOf(player) {
  const rows = [];
  let token = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const url = new URL(`players/${encodeURIComponent(player)}/friends`, api);
    url.searchParams.set("limit", "100");
    if (token) url.searchParams.set("nextToken", token);
    const response = await fetch(url, { cache: "no-store" });
    const answer = await answerOf(response);
    if (!response.ok) throw new Error(`${response.status}: ${answer.message ?? "no message"}`);
    rows.push(...answer.items);
    token = answer.nextToken;
    if (!token) break;
  }
  return rows;
}

function renderLists(names, results) {
  const cards = names.map((name, index) => {
    const card = element("section", undefined, "card");
    card.setAttribute("aria-label", `Friends of ${name}`);
    card.append(element("h2", name));
    const result = results[index];
    if (result.status === "rejected") {
      card.append(element("p", result.reason.message, "error"));
      return card;
    }
    const list = element("ul");
    for (const row of result.value) {
      const item = element("li");
      item.append(element("span", row.friend_id), " ", element("span", row.state, row.state));
      list.append(item);
    }
    if (result.value.length === 0) list.append(element("li", "no friends yet", "empty"));
    card.append(list);
    return card;
  });
  byId("lists").replaceChildren(...cards);
}

function renderPairs(names, results) {
  const states = new Map(
    names.map((name, index) => [
      name,
      new Map((results[index].value ?? []).map((row) => [row.friend_id, row.state])),
    ]),
  );
  const header = element("tr");
  header.append(element("th", ""), ...names.map((name) => element("th", name)));
  const rows = names.map((player) => {
    const row = element("tr");
    row.append(element("th", player));
    for (const friend of names) {
      const state = player === friend ? "\u2014" : states.get(player).get(friend) ?? "\u00b7";
      row.append(element("td", state, state));
    }
    return row;
  });
  byId("pairs").replaceChildren(header, ...rows);
}

let polling = false;

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const names = players();
    const results = await Promise.allSettled(names.map(rowsOf));
    renderLists(names, results);
    renderPairs(names, results);
    byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } finally {
    polling = false;
  }
}

for (const input of playerInputs) input.addEventListener("change", () => {
  refreshChoices();
  poll();
});
byId("send").addEventListener("submit", send);
refreshChoices();
poll();
setInterval(poll, POLL_MS);
