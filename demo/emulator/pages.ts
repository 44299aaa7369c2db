import { createHash } from "node:crypto";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}.unset{color:#777}form{display:flex;gap:1rem;margin-top:2rem}
button{font:inherit;padding:.5rem 1.5rem;border-radius:.4rem;border:1px solid #888;cursor:pointer}
#allow{background:#1b1b1f;color:#fff}.note{color:#777;font-size:.85rem}`;
// A hash instead of 'unsafe-inline': the page stays style-able while injected markup stays inert.
const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Headers of every page: no script at all, and forms may only post here or to the callback's origin
 * (Chromium applies form-action to the redirect that follows the post, too).
 */
export function pageHeaders(callbackUrl?: URL): Record<string, string> {
  // CSP host sources cannot name an IPv6 literal, so [::1] gets its scheme instead.
  const target = callbackUrl?.hostname.startsWith("[") ? callbackUrl.protocol : callbackUrl?.origin;
  const formAction = target === undefined ? "'none'" : `'self' ${target}`;
  return {
    "Content-Security-Policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
  };
}

export interface ConsentView {
  /** Where the form posts the decision. */
  action: string;
  requestId: string;
  callbackOrigin: string;
  /** Rows of the settings table; `null` values read "not set". */
  settings: ReadonlyArray<[label: string, value: string | null]>;
}

export function consentPage(view: ConsentView): string {
  const app = new URL(view.callbackOrigin).host;
  const rows = view.settings
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${value === null ? '<span class="unset">not set</span>' : escapeHtml(value)}</dd>`)
    .join("\n");
  return layout(
    "Authorize application",
    `<h1><span id="app-name">${escapeHtml(app)}</span> wants to connect to your OpenRouter account</h1>
<p>It will receive an API key for your account and be sent back to <strong id="callback-origin">${escapeHtml(view.callbackOrigin)}</strong>.</p>
<dl id="settings">
${rows}
</dl>
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="request" value="${escapeHtml(view.requestId)}">
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
</form>
<p class="note">Local OpenRouter emulator: no account, no credits, no internet.</p>`,
  );
}

export function errorPage(message: string): string {
  return layout(
    "Authorization request refused",
    `<h1>This authorization request cannot be processed</h1>
<p id="error">${escapeHtml(message)}</p>
<p class="note">Local OpenRouter emulator: nothing was sent back to the app.</p>`,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · OpenRouter emulator</title><style>${STYLE}</style></head>
<body>
${body}
</body>
</html>
`;
}
