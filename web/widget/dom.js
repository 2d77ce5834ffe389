// @ts-check
/**
 * The one way the widget builds DOM: elements, attributes and text nodes.
 * Strings always become text (never HTML), so nothing a visitor or an agent
 * types can turn into markup or script.
 */

/** Attributes that would run script or load a URL are refused outright. */
const UNSAFE_ATTR = /^(on|href$|src$|srcdoc$|formaction$|action$|style$)/i;

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs] properties (`className`, `hidden`, `type`...), `aria-*`/`data-*`/others as attributes
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "className" || k === "hidden" || k === "disabled" || k === "checked" || k === "value" || k === "type" ||
        k === "id" || k === "name" || k === "htmlFor" || k === "rows" || k === "required" || k === "selected") {
      /** @type {any} */ (el)[k] = v;
    } else if (UNSAFE_ATTR.test(k)) {
      throw new Error("dom: refusing attribute " + k);
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

/** @param {Node} el @param {...(Node|string|number|null|undefined|false)} children */
export function append(el, ...children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Remove every child. @param {Node} el */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/**
 * Text with its http(s) URLs as links that open in a new tab without
 * access to this page. Only http and https become links; the link text is
 * the URL itself, so what it points to is what the visitor reads.
 * @param {string} text @returns {DocumentFragment}
 */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0].replace(/[.,;:!?)\]]+$/, ""); // trailing punctuation is the sentence's
    const at = /** @type {number} */ (m.index);
    let url = null;
    try { url = new URL(raw); } catch { /* not a URL after all */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    append(frag, text.slice(last, at));
    const a = document.createElement("a");
    a.href = url.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    a.textContent = raw;
    frag.appendChild(a);
    last = at + raw.length;
  }
  append(frag, text.slice(last));
  return frag;
}

/** Fill "{name}" placeholders with values (as text). @param {string} s @param {Record<string, any>} [vars] */
export function fmt(s, vars) {
  return String(s).replace(/\{(\w+)\}/g, (all, k) => (vars && k in vars ? String(vars[k]) : all));
}
