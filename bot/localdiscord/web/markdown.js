// Discord's basic markdown as safe HTML. Code spans, links and mentions are cut out first and
// kept aside (so `_` in a URL is not italics); the rest is escaped, then a small set of
// patterns (bold, italics, underline, strike, spoilers, headings, quotes, lists) become tags.
// Links are only ever http(s).
"use strict";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function link(href, text) {
  return `<a href="${href}" target="_blank" rel="noopener">${text}</a>`;
}

function mention(kind, id, names) {
  const name = (names && names[id]) || id;
  const shown = kind === "#" ? `#${name}` : `@${name}`;
  return `<span class="mention">${escapeHtml(shown)}</span>`;
}

// Returns escaped text with bold, underline, italics, strike and spoilers as tags.
function inlineMarkdown(text) {
  return text
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/__(.+?)__/g, "<u>$1</u>")
    .replace(/(^|[^\w*])\*(?!\s)(.+?)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^\w])_(?!\s)(.+?)_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~(.+?)~~/g, "<s>$1</s>")
    .replace(/\|\|(.+?)\|\|/g, '<span class="spoiler" tabindex="0">$1</span>');
}

// Returns one escaped line of block markdown (heading, subtext, quote, list item) as HTML.
function blockLine(line) {
  const rules = [
    [/^### (.*)$/, "h5"],
    [/^## (.*)$/, "h4"],
    [/^# (.*)$/, "h3"],
    [/^-# (.*)$/, "small"],
    [/^&gt; ?(.*)$/, "blockquote"],
    [/^[-*] (.*)$/, "li"],
  ];
  for (const [pattern, tag] of rules) {
    const found = line.match(pattern);
    if (found) return `<${tag}>${inlineMarkdown(found[1])}</${tag}>`;
  }
  return inlineMarkdown(line) + "<br>";
}

// Returns Discord-flavoured markdown `text` as HTML; `names` maps ids to mention names.
function renderMarkdown(text, names) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  const source = escapeHtml(
    String(text || "")
      .replace(/```(?:[\w+-]*\n)?([\s\S]*?)```/g, (_, code) => keep(`<pre>${escapeHtml(code)}</pre>`))
      .replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(code)}</code>`)),
  )
    .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, href) => keep(link(href, label)))
    .replace(/(^|[\s(])(https?:\/\/[^\s<)]+)/g, (_, before, href) => before + keep(link(href, href)))
    .replace(/&lt;(@!?|#|@&amp;)(\d+)&gt;/g, (_, kind, id) => keep(mention(kind, id, names)))
    .replace(/&lt;t:(\d+)(?::\w)?&gt;/g, (_, t) => new Date(Number(t) * 1000).toLocaleString());
  const html = source.split("\n").map(blockLine).join("").replace(/<br>$/, "");
  return html.replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)]);
}

window.renderMarkdown = renderMarkdown;
window.escapeHtml = escapeHtml;
