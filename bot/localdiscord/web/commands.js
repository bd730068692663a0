// Autocomplete for the composer, like Discord's command picker: command names, subcommands,
// option names and choices, all from the synced command list. The server parses and checks
// what is finally sent; this only helps to type it.
"use strict";

const TYPE_HINT = {
  3: "text", 4: "whole number", 5: "true/false", 6: "member", 7: "channel",
  8: "role", 9: "member or role", 10: "number", 11: "file",
};
const isSub = (d) => d.type === 1 || d.type === 2;
const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Returns {defs, pos} for a fully named (sub)command, or {items} while a name is being typed.
function locate(text, commands) {
  const head = text.match(/^\/(\S*)$/);
  if (head) {
    const typed = head[1].toLowerCase();
    const items = commands.filter((c) => c.name.startsWith(typed)).map((c) => ({
      label: "/" + c.name,
      detail: c.allowed ? c.description : `${c.description} (not offered to you)`,
      text: `/${c.name} `,
      locked: !c.allowed,
    }));
    return { items };
  }
  const named = text.match(/^\/(\S+)\s/);
  const command = named && commands.find((c) => c.name === named[1].toLowerCase());
  if (!command) return { items: [] };
  let defs = command.options || [];
  let pos = named[1].length + 1;
  while (defs.some(isSub)) {
    const found = text.slice(pos).match(/^(\s*)(\S*)(\s?)/);
    const word = found[2].toLowerCase();
    const subs = defs.filter(isSub);
    if (!found[3]) {
      const base = text.slice(0, pos).trimEnd();
      const items = subs.filter((d) => d.name.startsWith(word)).map((d) => ({
        label: d.name, detail: d.description, text: `${base} ${d.name} `,
      }));
      return { items };
    }
    const sub = subs.find((d) => d.name === word);
    if (!sub) return { items: [] };
    defs = sub.options || [];
    pos += found[0].length;
  }
  return { defs, pos };
}

function optionDetail(d) {
  const needs = d.required ? " (required)" : "";
  return `${TYPE_HINT[d.type] || "value"}${needs}${d.description ? " · " + d.description : ""}`;
}

// Returns the option suggestions after a (sub)command: choices for the value being typed,
// a hint for an empty value, else the options not given yet.
function optionItems(text, defs, pos) {
  const names = defs.map((d) => d.name);
  if (!names.length) return [];
  const marker = new RegExp(`(?:^|\\s)(${names.map(escapeRegExp).join("|")})\\s*:`, "gi");
  const rest = text.slice(pos);
  const marks = [...rest.matchAll(marker)];
  const used = new Set(marks.map((m) => m[1].toLowerCase()));
  const last = marks[marks.length - 1];
  if (last) {
    const def = defs.find((d) => d.name === last[1].toLowerCase());
    const start = pos + last.index + last[0].length;
    const value = text.slice(start);
    const typing = value.trim() === "" || !/\s$/.test(value);
    if (def.choices && def.choices.length && typing) {
      const typed = value.trim().toLowerCase();
      return def.choices
        .filter((c) => String(c.name).toLowerCase().startsWith(typed) && String(c.name).toLowerCase() !== typed)
        .map((c) => ({ label: String(c.name), detail: `${def.name} choice`, text: `${text.slice(0, start)} ${c.name} ` }));
    }
    if (value.trim() === "") return [{ label: `${def.name}: …`, detail: optionDetail(def), hint: true }];
  }
  const partial = text.match(/(\S*)$/)[1];
  let base = text.slice(0, text.length - partial.length);
  if (!/\s$/.test(base)) base += " ";
  return defs
    .filter((d) => !used.has(d.name) && d.name.startsWith(partial.toLowerCase()))
    .sort((a, b) => Number(!!b.required) - Number(!!a.required))
    .map((d) => (d.type === 11
      ? { label: `${d.name}: 📎`, detail: optionDetail(d) + " · pick a file", pick: d.name }
      : { label: `${d.name}:`, detail: optionDetail(d), text: `${base}${d.name}: ` }));
}

// Returns {items, auto}: the suggestions for `text`; `auto` when Enter should take the first.
function suggest(text, commands) {
  if (!text.startsWith("/")) return { items: [], auto: false };
  const found = locate(text, commands);
  if (found.items) return { items: found.items, auto: true };
  const items = optionItems(text, found.defs, found.pos);
  const choosing = items.length > 0 && !items[0].hint && !items[0].pick && !items[0].label.endsWith(":");
  return { items, auto: choosing };
}

// Returns the attachment options of the command in `text` (for the file slots).
function fileOptions(text, commands) {
  if (!text.startsWith("/")) return [];
  const found = locate(text.endsWith(" ") ? text : text + " ", commands);
  return found.defs ? found.defs.filter((d) => d.type === 11) : [];
}

window.suggest = suggest;
window.fileOptions = fileOptions;
