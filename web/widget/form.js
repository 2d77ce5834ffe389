// @ts-check
/**
 * The pre-engagement form, in Twilio's preEngagementConfig shape:
 *   { description, submitLabel, fields: [{ label, type, attributes: {name, type, placeholder,
 *     required, readOnly, value, rows, pattern, minLength, maxLength}, options, messages }] }
 * with type InputItem (attributes.type text|email|tel|number|url), SelectItem,
 * TextareaItem, and Parley's CheckboxItem. Checks run in the widget and their
 * messages appear next to the field.
 */
import { h, fmt } from "./dom.js";

/** @typedef {{ label: string, type: string, attributes: Record<string, any>, options?: {value: string, label: string, selected?: boolean}[], messages?: Record<string, string> }} Field */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9][0-9 ().-]{4,22}$/;

let seq = 0;

/**
 * @param {{description?: string, submitLabel?: string, fields?: Field[]}} config
 * @param {Record<string, string>} strings
 * @param {(answers: Record<string, any>) => Promise<void>} onSubmit
 */
export function preEngagementForm(config, strings, onSubmit) {
  const id = "pw-f" + ++seq;
  const fields = (config.fields || []).filter((f) => f && f.attributes && f.attributes.name);
  /** @type {{field: Field, input: HTMLInputElement|HTMLSelectElement|HTMLTextAreaElement, error: HTMLElement}[]} */
  const rows = [];
  const form = h("form", { className: "pre", novalidate: "", "aria-describedby": config.description ? id + "-d" : null });
  if (config.description) form.appendChild(h("p", { id: id + "-d", className: "desc" }, config.description));
  fields.forEach((field, i) => {
    const row = fieldRow(field, `${id}-${i}`, strings);
    rows.push(row);
    form.appendChild(row.wrap);
  });
  const status = h("p", { className: "form-status", role: "status" });
  const submit = h("button", { type: "submit", className: "primary" }, config.submitLabel || strings.submit);
  form.append(status, submit);

  /** @param {typeof rows[number]} r */
  const check = (r) => {
    const msg = validate(r.field, r.input, strings);
    r.error.textContent = msg;
    r.error.hidden = !msg;
    if (msg) r.input.setAttribute("aria-invalid", "true");
    else r.input.removeAttribute("aria-invalid");
    return msg;
  };
  let submitted = false;
  for (const r of rows) {
    r.input.addEventListener("blur", () => submitted && check(r));
    r.input.addEventListener("input", () => submitted && r.input.getAttribute("aria-invalid") && check(r));
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submitted = true;
    const bad = rows.filter((r) => check(r));
    if (bad.length) {
      status.textContent = fmt(strings.formInvalid, { n: bad.length });
      bad[0].input.focus();
      return;
    }
    /** @type {Record<string, any>} */
    const answers = {};
    for (const r of rows) {
      const el = r.input;
      answers[r.field.attributes.name] = el instanceof HTMLInputElement && el.type === "checkbox" ? el.checked : el.value.trim();
    }
    /** @type {HTMLButtonElement} */ (submit).disabled = true;
    status.textContent = strings.starting;
    try {
      await onSubmit(answers);
    } catch (e) {
      status.textContent = fmt(strings.startFailed, { error: e instanceof Error ? e.message : String(e) });
    } finally {
      /** @type {HTMLButtonElement} */ (submit).disabled = false;
    }
  });
  return form;
}

/** @param {Field} field @param {string} id @param {Record<string, string>} strings */
function fieldRow(field, id, strings) {
  const a = field.attributes;
  const required = !!a.required;
  const errId = id + "-e";
  const common = { id, name: a.name, required, "aria-required": required ? "true" : null, "aria-describedby": errId,
    placeholder: a.placeholder, readonly: a.readOnly ? "" : null };
  /** @type {any} */
  let input;
  const type = field.type || "InputItem";
  if (type === "SelectItem") {
    input = h("select", common, ...(field.options || []).map((o) => h("option", { value: String(o.value), selected: !!o.selected }, o.label)));
  } else if (type === "TextareaItem") {
    input = h("textarea", { ...common, rows: a.rows || 3, minlength: a.minLength, maxlength: a.maxLength });
    if (a.value) input.value = String(a.value);
  } else if (type === "CheckboxItem") {
    input = h("input", { ...common, type: "checkbox", checked: !!a.value, placeholder: null });
  } else {
    const t = ["text", "email", "tel", "number", "url"].includes(a.type) ? a.type : "text";
    input = h("input", { ...common, type: t, minlength: a.minLength, maxlength: a.maxLength, pattern: a.pattern,
      autocomplete: a.autocomplete || auto(a.name, t) });
    if (a.value !== undefined) input.value = String(a.value);
  }
  const error = h("p", { id: errId, className: "error", hidden: true });
  const mark = required ? h("span", { className: "req", "aria-hidden": "true" }, " *") : null;
  const label = h("label", { htmlFor: id }, field.label, mark);
  const wrap = type === "CheckboxItem"
    ? h("div", { className: "field check" }, input, label, error)
    : h("div", { className: "field" }, label, input, error);
  return { field, input, error, wrap };
}

/** @param {string} name @param {string} type */
function auto(name, type) {
  if (type === "email") return "email";
  if (type === "tel") return "tel";
  return /^(friendlyName|name)$/i.test(name) ? "name" : null;
}

/**
 * The first problem with a field's value, as a message ("" if none).
 * @param {Field} field @param {any} input @param {Record<string, string>} strings
 */
export function validate(field, input, strings) {
  const a = field.attributes;
  const m = { ...strings, ...(field.messages || {}) };
  const vars = { label: field.label, min: a.minLength, max: a.maxLength };
  if (input.type === "checkbox") return a.required && !input.checked ? fmt(m.fieldCheck, vars) : "";
  const v = String(input.value || "").trim();
  if (!v) return a.required ? fmt(m.fieldRequired, vars) : "";
  if (input.type === "email" && !EMAIL.test(v)) return fmt(m.fieldEmail, vars);
  if (input.type === "tel" && !PHONE.test(v)) return fmt(m.fieldPhone, vars);
  const len = [...v].length;
  if ((a.minLength && len < a.minLength) || (a.maxLength && len > a.maxLength)) {
    return fmt(a.minLength && a.maxLength ? m.fieldLength : a.minLength ? m.fieldMin : m.fieldMax, vars);
  }
  if (a.pattern) {
    let re = null;
    try { re = new RegExp("^(?:" + a.pattern + ")$", "u"); } catch { /* a bad pattern checks nothing */ }
    if (re && !re.test(v)) return fmt(m.fieldPattern, vars);
  }
  return "";
}
