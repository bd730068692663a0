// The local page: pick a channel and who you are, watch messages live (server-sent events),
// type slash commands with autocomplete, click buttons and fill in modals. Every action is a
// real interaction the local Discord server dispatches to the bot.
"use strict";

const state = {
  world: null, commands: [], user: null, channel: null, files: {},
  rendered: new Map(), suggestions: { items: [], auto: false }, selected: -1,
  refreshing: false, again: false, stick: true,
};
const $ = (id) => document.getElementById(id);

// Returns the JSON answer of a request to the page's API; {ok: false, error} when it failed.
async function api(path, { json, body } = {}) {
  const options = json !== undefined
    ? { method: "POST", body: JSON.stringify(json), headers: { "Content-Type": "application/json" } }
    : body !== undefined ? { method: "POST", body } : {};
  try {
    const reply = await fetch(path, options);
    const data = await reply.json().catch(() => ({ ok: false, error: `HTTP ${reply.status}` }));
    return reply.ok || data.ok === false ? data : { ok: false, error: `HTTP ${reply.status}` };
  } catch (err) {
    return { ok: false, error: "The local server does not answer: is `genbot run --local` still running?" };
  }
}

window.mentionNames = () => {
  const names = {};
  if (!state.world) return names;
  for (const c of state.world.channels) names[c.id] = c.name;
  for (const m of state.world.members) names[m.id] = m.name;
  names[state.world.bot.id] = state.world.bot.name;
  return names;
};

window.keepAtBottom = () => {
  const box = $("messages");
  if (state.stick) box.scrollTop = box.scrollHeight;
};

function showError(text) {
  $("composer-error").textContent = text || "";
  $("composer-error").hidden = !text;
}

function setStatus(text) {
  $("status").textContent = text;
}

// -- sidebar -------------------------------------------------------------------------------

function renderSidebar() {
  const channels = $("channels");
  channels.replaceChildren();
  const entries = [...state.world.channels, { id: "dm", name: "direct messages", dm: true }];
  for (const c of entries) {
    const label = c.dm ? "✉ Direct messages" : `# ${c.name}`;
    channels.append(window.el("button", {
      type: "button", class: "channel", "data-channel": c.name, "aria-current": c.id === state.channel ? "page" : false,
      title: c.nsfw ? "Age-restricted channel" : c.topic || "", onclick: () => selectChannel(c.id),
    }, [label, c.nsfw ? window.el("span", { class: "nsfw" }, "18+") : null]));
  }
  const members = $("members");
  members.replaceChildren();
  for (const m of state.world.members) {
    members.append(window.el("button", {
      type: "button", class: "member", "data-member": m.name, "aria-pressed": m.id === state.user.id ? "true" : "false",
      onclick: () => selectMember(m),
    }, [m.name, m.moderator ? window.el("span", { class: "badge" }, "mod") : null]));
  }
  const channel = state.world.channels.find((c) => c.id === state.channel);
  $("channel-title").textContent = channel ? `# ${channel.name}` : "✉ Direct messages";
  $("channel-topic").textContent = channel ? (channel.nsfw ? "🔞 age-restricted · " : "") + (channel.topic || "") : "what genbot sent you";
  $("input").placeholder = channel ? `Message #${channel.name} as ${state.user.name}: type / for commands` : "Direct messages are read-only here";
  $("input").disabled = !channel;
  const params = new URLSearchParams({ user: state.user.name, channel: channel ? channel.name : "dm" });
  history.replaceState(null, "", `?${params}`);
}

function selectChannel(id) {
  delete document.body.dataset.shown;
  state.channel = id;
  state.stick = true;
  $("messages").replaceChildren();
  state.rendered = new Map();
  renderSidebar();
  refresh();
}

async function selectMember(member) {
  delete document.body.dataset.shown;
  state.user = member;
  state.stick = true;
  renderSidebar();
  await loadCommands();
  refresh();
  updateComposer();
}

// -- messages --------------------------------------------------------------------------------

async function loadCommands() {
  const list = await api(`/local/commands?user=${state.user.id}`);
  state.commands = Array.isArray(list) ? list : [];
}

// Fetches what the current member sees in the current channel and redraws what changed.
async function refresh() {
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    if (!state.commands.length) await loadCommands();
    const shown = shownKey();
    const list = await api(`/local/messages?channel=${state.channel}&user=${state.user.id}`);
    if (Array.isArray(list)) draw(list);
    // Tells a watcher (the browser tests) which channel and member the list now shows.
    if (Array.isArray(list) && shown === shownKey()) document.body.dataset.shown = shown;
  } finally {
    state.refreshing = false;
    if (state.again) { state.again = false; refresh(); }
  }
}

function shownKey() {
  const channel = state.world.channels.find((c) => c.id === state.channel);
  return `${channel ? channel.name : "dm"}:${state.user.name}`;
}

function draw(list) {
  const box = $("messages");
  const kept = new Map();
  let previous = null;
  for (const message of list) {
    const key = `${message.id}:${message.revision}:${message.loading}`;
    let node = state.rendered.get(message.id);
    if (!node || node.dataset.key !== key) {
      const fresh = window.renderMessage(message);
      fresh.dataset.key = key;
      if (node) node.replaceWith(fresh);
      node = fresh;
    }
    const wanted = previous ? previous.nextSibling : box.firstChild;
    if (wanted !== node) box.insertBefore(node, wanted);
    kept.set(message.id, node);
    previous = node;
  }
  for (const [id, node] of state.rendered) if (!kept.has(id)) node.remove();
  state.rendered = kept;
  window.keepAtBottom();
}

function listen() {
  const events = new EventSource("/local/events");
  events.onopen = () => setStatus("live");
  events.onmessage = () => refresh();
  events.onerror = () => setStatus("reconnecting…");
}

// -- acting ----------------------------------------------------------------------------------

async function send() {
  const text = $("input").value.trim();
  if (!text) return;
  const form = new FormData();
  form.append("text", text);
  form.append("user", state.user.id);
  form.append("channel", state.channel);
  for (const [name, file] of Object.entries(state.files)) form.append(`file:${name}`, file, file.name);
  $("send").disabled = true;
  const reply = await api("/local/send", { body: form });
  $("send").disabled = false;
  if (!reply.ok) { showError(reply.error); return; }
  showError("");
  $("input").value = "";
  state.files = {};
  state.stick = true;
  updateComposer();
  if (reply.modal) openModal(reply.modal);
}

window.clickComponent = async (message, customId, values, control) => {
  if (control) control.disabled = true;
  const reply = await api("/local/click", { json: { message: message.id, custom_id: customId, user: state.user.id, values } });
  if (control) control.disabled = false;
  showError(reply.ok ? "" : reply.error);
  if (reply.ok && reply.modal) openModal(reply.modal);
};

// -- modals ----------------------------------------------------------------------------------

function modalField(comp) {
  const input = comp.type === 18 ? comp.component : comp.components[0];
  const label = comp.type === 18 ? comp.label : input.label;
  const attrs = {
    name: input.custom_id, required: input.required !== false, placeholder: input.placeholder,
    minlength: input.min_length, maxlength: input.max_length, id: `field-${input.custom_id}`,
  };
  let control;
  if (input.type === 4) {
    control = input.style === 2 ? window.el("textarea", { ...attrs, rows: 4 }) : window.el("input", attrs);
    control.value = input.value || "";
  } else if (input.type === 3) {
    control = window.el("select", attrs, (input.options || []).map((o) => window.el("option", { value: o.value }, o.label)));
  } else {
    return window.el("p", { class: "unsupported" }, `(${label}: this field type is not supported here)`);
  }
  return window.el("label", { class: "field", for: attrs.id }, [
    window.el("span", {}, label), comp.description ? window.el("small", {}, comp.description) : null, control,
  ]);
}

function openModal(modal) {
  const dialog = $("modal");
  dialog.dataset.customId = modal.custom_id;
  $("modal-title").textContent = modal.title;
  $("modal-fields").replaceChildren(...modal.components.map(modalField));
  $("modal-error").hidden = true;
  dialog.showModal();
}

async function submitModal(event) {
  event.preventDefault();
  const dialog = $("modal");
  const values = {};
  for (const control of $("modal-fields").querySelectorAll("[name]")) {
    values[control.name] = control.tagName === "SELECT" ? [control.value] : control.value;
  }
  const reply = await api("/local/modal", { json: { custom_id: dialog.dataset.customId, values, user: state.user.id } });
  if (!reply.ok) {
    $("modal-error").textContent = reply.error;
    $("modal-error").hidden = false;
    return;
  }
  dialog.close();
  showError("");
}

// -- composer --------------------------------------------------------------------------------

function updateComposer() {
  const text = $("input").value;
  state.suggestions = window.suggest(text, state.commands);
  state.selected = state.suggestions.auto ? 0 : -1;
  drawSuggestions();
  const slots = $("files");
  const options = window.fileOptions(text, state.commands);
  for (const name of Object.keys(state.files)) if (!options.some((o) => o.name === name)) delete state.files[name];
  slots.replaceChildren(...options.map((o) => window.el("button", {
    type: "button", class: state.files[o.name] ? "file-slot chosen" : "file-slot", "data-option": o.name,
    onclick: () => pickFile(o.name),
  }, state.files[o.name] ? `📎 ${o.name}: ${state.files[o.name].name} ✕` : `📎 ${o.name}${o.required ? " *" : ""}`)));
}

function drawSuggestions() {
  const list = $("suggestions");
  const { items } = state.suggestions;
  list.hidden = items.length === 0;
  list.replaceChildren(...items.map((item, i) => window.el("li", {
    role: "option", class: [item.locked ? "locked" : "", item.hint ? "hint" : ""].join(" ").trim(),
    "aria-selected": i === state.selected ? "true" : "false",
    onmousedown: (event) => { event.preventDefault(); take(item); },
  }, [window.el("span", { class: "label" }, item.label), window.el("span", { class: "detail" }, item.detail || "")])));
}

function take(item) {
  if (item.pick) { pickFile(item.pick); return; }
  if (item.text === undefined) return;
  $("input").value = item.text;
  $("input").focus();
  updateComposer();
}

function pickFile(option) {
  if (state.files[option]) { delete state.files[option]; updateComposer(); return; }
  const picker = $("file-picker");
  picker.value = "";
  picker.onchange = () => {
    if (picker.files.length) state.files[option] = picker.files[0];
    updateComposer();
  };
  picker.click();
}

function onKey(event) {
  const { items } = state.suggestions;
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (items.length && event.key in moves) {
    event.preventDefault();
    state.selected = (state.selected + moves[event.key] + items.length) % items.length;
    drawSuggestions();
  } else if (items.length && (event.key === "Tab" || (event.key === "Enter" && state.selected >= 0))) {
    const item = items[Math.max(state.selected, 0)];
    const complete = item.text !== undefined && item.text.trim() === $("input").value.trim();
    if (event.key === "Enter" && complete) return; // nothing to add: Enter sends
    event.preventDefault();
    take(item);
  } else if (event.key === "Escape") {
    state.suggestions = { items: [], auto: false };
    drawSuggestions();
  }
}

async function boot() {
  state.world = await api("/local/world");
  $("guild-name").textContent = state.world.guild.name;
  const params = new URLSearchParams(location.search);
  const members = state.world.members;
  state.user = members.find((m) => m.name === params.get("user")) || members.find((m) => !m.moderator) || members[0];
  const wanted = params.get("channel");
  const channel = state.world.channels.find((c) => c.name === wanted);
  state.channel = wanted === "dm" ? "dm" : (channel || state.world.channels[0]).id;
  renderSidebar();
  $("composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
  $("input").addEventListener("input", () => { showError(""); updateComposer(); });
  $("input").addEventListener("keydown", onKey);
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-cancel").addEventListener("click", () => $("modal").close());
  $("messages").addEventListener("scroll", () => {
    const box = $("messages");
    state.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  });
  await loadCommands();
  await refresh();
  listen();
  document.body.dataset.ready = "true";
}

boot();
