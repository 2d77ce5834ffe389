// The chat panel's styles. Colours are CSS custom properties set on the
// widget's host element (the `colors` option), with defaults that meet WCAG
// AA contrast. Logical properties (inline-start/end) lay out RTL correctly.
export const PANEL_CSS = `
.panel{position:fixed;inset-block-end:92px;inset-inline-end:20px;width:min(380px,calc(100vw - 24px));
 height:min(600px,calc(100vh - 120px));display:flex;flex-direction:column;background:var(--pw-bg,#fff);
 color:var(--pw-text,#1d2433);border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.28);overflow:hidden}
.panel[hidden]{display:none}
.head{display:flex;align-items:center;gap:8px;padding:12px 16px;background:var(--pw-primary,#1a56c4);color:var(--pw-on-primary,#fff)}
.head .heading{flex:1;min-width:0}
.head h2{margin:0;font-size:17px;font-weight:600}
.head .sub{margin:0;font-size:13px}
.head button{background:transparent;border:0;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px;border-radius:6px}
button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,a:focus-visible,[tabindex]:focus-visible{outline:3px solid var(--pw-focus,#f5a623);outline-offset:2px}
.banner{margin:0;padding:8px 16px;background:#fff4ce;color:#3d2e00;font-size:14px;display:flex;gap:8px;align-items:center}
.banner button{margin-inline-start:auto}
.body{flex:1;overflow:auto;display:flex;flex-direction:column;min-height:0}
.conv{flex:1;display:flex;flex-direction:column;min-height:0}
.scroll{flex:1;overflow:auto;min-height:0}
.pre,.survey{padding:16px;display:flex;flex-direction:column;gap:12px}
.desc{margin:0}
.field{display:flex;flex-direction:column;gap:4px}
.field.check{flex-direction:row;flex-wrap:wrap;align-items:center;gap:8px}
.field.check .error{flex-basis:100%}
label{font-weight:600;font-size:14px}
.req{color:#b3001b}
input,select,textarea{font:inherit;color:inherit;background:#fff;border:1px solid #6b7385;border-radius:6px;padding:8px}
input[type=checkbox]{width:18px;height:18px;margin:0}
[aria-invalid=true]{border-color:#b3001b;box-shadow:0 0 0 1px #b3001b}
.error{margin:0;color:#b3001b;font-size:13px}
.error[hidden]{display:none}
.form-status{margin:0;font-size:14px;min-height:1em}
button.primary,button.secondary{font:inherit;font-weight:600;border-radius:6px;padding:9px 14px;cursor:pointer}
button.primary{background:var(--pw-primary,#1a56c4);color:var(--pw-on-primary,#fff);border:0}
button.secondary{background:transparent;color:var(--pw-primary-text,#1a4fb0);border:1px solid currentColor}
button:disabled{opacity:.6;cursor:default}
.log{margin:0;padding:12px;display:flex;flex-direction:column;gap:8px}
.msg{max-width:80%;display:flex;flex-direction:column;gap:2px}
.msg .bubble{padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:plaintext}
.msg.own{align-self:flex-end;align-items:flex-end}
.msg.own .bubble{background:var(--pw-own-bg,#1a56c4);color:var(--pw-own-text,#fff);border-end-end-radius:4px}
.msg.own .bubble a{color:inherit}
.msg.agent{align-self:flex-start}
.msg.agent .bubble{background:var(--pw-agent-bg,#eceff4);color:var(--pw-agent-text,#1d2433);border-end-start-radius:4px}
.msg .bubble a{color:#0b47a8}
.msg.system{align-self:center;max-width:90%;text-align:center;font-size:13px;color:#4a5263}
.meta{font-size:12px;color:#4a5263;display:flex;gap:6px}
.author{font-weight:600;font-size:12px;color:#4a5263}
.typing{padding:0 16px 4px;font-size:13px;color:#4a5263;min-height:18px;margin:0}
.composer{display:flex;gap:8px;padding:10px 12px;border-block-start:1px solid #d5d9e0}
.composer textarea{flex:1;resize:none;min-height:40px;max-height:120px}
.actions{display:flex;gap:8px;padding:0 12px 10px;flex-wrap:wrap}
.actions button{font:inherit;font-size:13px;background:transparent;border:0;color:#1a4fb0;text-decoration:underline;cursor:pointer;padding:2px 4px}
.ended{padding:12px 16px;display:flex;flex-direction:column;gap:10px;border-block-start:1px solid #d5d9e0}
.ended p{margin:0}
fieldset{border:0;padding:0;margin:0;display:flex;gap:6px;flex-wrap:wrap}
legend{font-weight:600;font-size:14px;margin-block-end:6px}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}
`;
