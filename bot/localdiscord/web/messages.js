// Drawing messages as Discord does: author line, markdown text, embeds, attachments (images
// inline, audio players, other files as links), buttons and selects, and the ephemeral note.
"use strict";

// Returns a new element with attributes and children (strings become text).
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of [].concat(children)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function markdownBlock(text, cls = "md") {
  const node = el("div", { class: cls });
  node.innerHTML = window.renderMarkdown(text, window.mentionNames());
  return node;
}

function displayName(user) {
  return (user && (user.global_name || user.username)) || "someone";
}

// Returns the URL an embed or component refers to, resolving attachment://name.
function resolveUrl(url, message) {
  if (!url || !url.startsWith("attachment://")) return url;
  const name = url.slice("attachment://".length);
  const found = message.attachments.find((a) => a.filename === name);
  return found ? found.url : null;
}

function renderEmbed(embed, message) {
  const box = el("div", { class: "embed" });
  if (embed.color) box.style.borderLeftColor = "#" + embed.color.toString(16).padStart(6, "0");
  if (embed.author && embed.author.name) box.append(el("div", { class: "embed-author" }, embed.author.name));
  if (embed.title) {
    const title = embed.url ? el("a", { href: embed.url, target: "_blank", rel: "noopener" }, embed.title) : embed.title;
    box.append(el("div", { class: "embed-title" }, title));
  }
  if (embed.description) box.append(markdownBlock(embed.description, "md embed-description"));
  if (embed.fields && embed.fields.length) {
    const grid = el("div", { class: "embed-fields" });
    for (const field of embed.fields) {
      grid.append(el("div", { class: field.inline ? "field inline" : "field" }, [
        el("div", { class: "field-name" }, field.name),
        markdownBlock(field.value, "md field-value"),
      ]));
    }
    box.append(grid);
  }
  const image = embed.image && resolveUrl(embed.image.url, message);
  if (image) box.append(el("img", { class: "embed-image", src: image, alt: "embed image" }));
  const thumb = embed.thumbnail && resolveUrl(embed.thumbnail.url, message);
  if (thumb) box.append(el("img", { class: "embed-thumb", src: thumb, alt: "thumbnail" }));
  if (embed.footer && embed.footer.text) box.append(el("div", { class: "embed-footer" }, embed.footer.text));
  return box;
}

function sizeText(bytes) {
  return bytes > 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} kB`;
}

function renderAttachment(file) {
  const type = file.content_type || "";
  if (type.startsWith("image/")) {
    const img = el("img", { src: file.url, alt: file.description || file.filename, onload: window.keepAtBottom });
    return el("a", { class: "attachment image", href: file.url, target: "_blank", rel: "noopener" }, img);
  }
  const link = el("a", { class: "file-link", href: file.url, download: file.filename }, `📄 ${file.filename} (${sizeText(file.size)})`);
  if (type.startsWith("audio/") && !type.includes("midi")) {
    return el("figure", { class: "attachment audio" }, [el("audio", { controls: true, preload: "none", src: file.url }), link]);
  }
  if (type.startsWith("video/")) {
    return el("figure", { class: "attachment video" }, [el("video", { controls: true, preload: "none", src: file.url }), link]);
  }
  return el("div", { class: "attachment file" }, link);
}

function renderButton(button, message) {
  const label = [button.emoji && button.emoji.name, button.label].filter(Boolean).join(" ");
  if (button.style === 5) {
    return el("a", { class: "btn style-5", href: button.url, target: "_blank", rel: "noopener" }, label + " ↗");
  }
  return el("button", {
    type: "button",
    class: `btn style-${button.style}`,
    disabled: !!button.disabled,
    "data-custom-id": button.custom_id,
    onclick: (event) => window.clickComponent(message, button.custom_id, undefined, event.currentTarget),
  }, label || "…");
}

function renderSelect(select, message) {
  const node = el("select", {
    class: "select",
    disabled: !!select.disabled,
    "data-custom-id": select.custom_id,
    onchange: (event) => window.clickComponent(message, select.custom_id, [event.target.value], event.target),
  }, el("option", { value: "", disabled: true, selected: true }, select.placeholder || "Choose…"));
  for (const option of select.options || []) node.append(el("option", { value: option.value }, option.label));
  return node;
}

// Returns the element of one component (rows, buttons, selects and the v2 layout parts).
function renderComponent(comp, message) {
  const children = () => (comp.components || []).map((c) => renderComponent(c, message));
  switch (comp.type) {
    case 1: return el("div", { class: "component-row" }, children());
    case 2: return renderButton(comp, message);
    case 3: return renderSelect(comp, message);
    case 9: return el("div", { class: "section" }, [...children(), comp.accessory ? renderComponent(comp.accessory, message) : null]);
    case 10: return markdownBlock(comp.content);
    case 11: return el("img", { class: "thumb", src: resolveUrl(comp.media.url, message), alt: comp.description || "" });
    case 12: return el("div", { class: "gallery" }, comp.items.map((i) => el("img", { src: resolveUrl(i.media.url, message), alt: i.description || "" })));
    case 14: return el("hr");
    case 17: return el("div", { class: "container" }, children());
    default: return el("div", { class: "unsupported" }, `(component type ${comp.type})`);
  }
}

// Returns the list item that shows one message.
function renderMessage(message) {
  const item = el("li", { class: message.ephemeral ? "msg ephemeral" : "msg", "data-id": message.id });
  const meta = message.interaction_metadata;
  if (meta && meta.type === 2) {
    item.append(el("div", { class: "invoked" }, [
      el("span", { class: "who" }, displayName(meta.user)), " used ", el("span", { class: "cmd" }, "/" + meta.name),
    ]));
  }
  item.append(el("div", { class: "head" }, [
    el("span", { class: message.author.bot ? "author bot" : "author" }, displayName(message.author)),
    message.author.bot ? el("span", { class: "tag" }, "APP") : null,
    el("time", { datetime: message.timestamp }, new Date(message.timestamp).toLocaleTimeString()),
  ]));
  if (message.loading) item.append(el("div", { class: "thinking" }, `${displayName(message.author)} is thinking…`));
  if (message.content) item.append(markdownBlock(message.content));
  const used = new Set();
  for (const embed of message.embeds) {
    for (const part of [embed.image, embed.thumbnail]) {
      if (part && part.url && part.url.startsWith("attachment://")) used.add(part.url.slice(13));
    }
    item.append(renderEmbed(embed, message));
  }
  const files = message.attachments.filter((a) => !used.has(a.filename)).map(renderAttachment);
  if (files.length) item.append(el("div", { class: "attachments" }, files));
  if (message.components.length) {
    item.append(el("div", { class: "components" }, message.components.map((c) => renderComponent(c, message))));
  }
  if (message.ephemeral) item.append(el("div", { class: "only-you" }, "👁 Only you can see this"));
  return item;
}

window.el = el;
window.renderMessage = renderMessage;
