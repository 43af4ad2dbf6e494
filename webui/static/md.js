// A tiny, safe markdown subset for model replies. Model text only ever reaches the page
// through textContent and createElement: no innerHTML, so HTML in a reply stays text.
// Blocks: paragraphs, ``` code fences, # headings, - and 1. lists. Inline: `code`,
// **bold**, *italic*, [label](https://...) links (http, https and mailto only).

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|(\[[^\]\n]+\]\([^)\s]+\))/g;
const SAFE_LINK = /^(https?:\/\/|mailto:)/i;

function element(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Append the inline markdown of `text` (one block, newlines become <br>) to `parent`. */
function appendInline(parent, text) {
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (index > 0) parent.append(element("br"));
    let last = 0;
    for (const match of line.matchAll(INLINE)) {
      if (match.index > last) parent.append(line.slice(last, match.index));
      const token = match[0];
      if (match[1]) parent.append(element("code", token.slice(1, -1)));
      else if (match[2]) parent.append(element("strong", token.slice(2, -2)));
      else if (match[3]) parent.append(element("em", token.slice(1, -1)));
      else {
        const split = token.indexOf("](");
        const label = token.slice(1, split);
        const href = token.slice(split + 2, -1);
        if (SAFE_LINK.test(href)) {
          const link = element("a", label);
          link.href = href;
          link.target = "_blank";
          link.rel = "noopener noreferrer nofollow";
          parent.append(link);
        } else {
          parent.append(token);
        }
      }
      last = match.index + token.length;
    }
    if (last < line.length) parent.append(line.slice(last));
  });
}

function listItem(line) {
  const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
  if (bullet) return { ordered: false, text: bullet[1] };
  const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
  if (numbered) return { ordered: true, text: numbered[1] };
  return null;
}

/** The markdown `text` as a DocumentFragment of safe elements. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) {
      const p = element("p");
      appendInline(p, paragraph.join("\n"));
      fragment.append(p);
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      const pre = element("pre");
      pre.append(element("code", code.join("\n")));
      fragment.append(pre);
      continue;
    }
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const h = element(`h${heading[1].length + 2}`);
      appendInline(h, heading[2]);
      fragment.append(h);
      continue;
    }
    const item = listItem(line);
    if (item) {
      flush();
      const list = element(item.ordered ? "ol" : "ul");
      for (; i < lines.length; i++) {
        const next = listItem(lines[i]);
        if (!next || next.ordered !== item.ordered) break;
        const li = element("li");
        appendInline(li, next.text);
        list.append(li);
      }
      i--;
      fragment.append(list);
      continue;
    }
    if (line.trim() === "") flush();
    else paragraph.push(line);
  }
  flush();
  return fragment;
}
