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
 * (Chromium applies form-action to the redirect that follows the post, too). `form`: a callback URL,
 * `"self"` for a form that posts here only, nothing for a page without a form.
 */
export function pageHeaders(form?: URL | "self"): Record<string, string> {
  // CSP host sources cannot name an IPv6 literal, so [::1] gets its scheme instead.
  const target = form === "self" || form === undefined ? form : form.hostname.startsWith("[") ? form.protocol : form.origin;
  const formAction = target === undefined ? "'none'" : target === "self" ? "'self'" : `'self' ${target}`;
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
  /** `null` for a headless request: the code is shown on screen instead. */
  callbackOrigin: string | null;
  /** Rows of the settings table; `null` values read "not set". */
  settings: ReadonlyArray<[label: string, value: string | null]>;
}

export function consentPage(view: ConsentView): string {
  const app = view.callbackOrigin === null ? "An app" : new URL(view.callbackOrigin).host;
  const rows = view.settings
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${value === null ? '<span class="unset">not set</span>' : escapeHtml(value)}</dd>`)
    .join("\n");
  const where =
    view.callbackOrigin === null
      ? `<p id="headless">It will not receive anything from here: after you allow, this page shows a code for you to paste into the app.</p>`
      : `<p>It will receive an API key for your account and be sent back to <strong id="callback-origin">${escapeHtml(view.callbackOrigin)}</strong>.</p>`;
  return layout(
    "Authorize application",
    `<h1><span id="app-name">${escapeHtml(app)}</span> wants to connect to your OpenRouter account</h1>
${where}
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

/** After Allow on a headless request: the code, for the user to copy into the app. */
export function codePage(code: string): string {
  return layout(
    "Your authorization code",
    `<h1>Paste this code into the app</h1>
<p><code id="code">${escapeHtml(code)}</code></p>
<p>It works once, for 10 minutes, and only in the app that asked for it.</p>
<p class="note">Local OpenRouter emulator.</p>`,
  );
}

/** After Deny on a headless request: nothing to paste. */
export function deniedPage(): string {
  return layout(
    "Access denied",
    `<h1>You denied access</h1>
<p id="denied">No code was created. You can close this page.</p>
<p class="note">Local OpenRouter emulator.</p>`,
  );
}

/** A page about one of the user's keys (`/keys/{hash}`), with a Revoke button while it works. */
export function keyPage(view: { hash: string; label: string; revoked: boolean; rows: ReadonlyArray<[string, string]>; action: string }): string {
  const rows = view.rows.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`).join("\n");
  const form = view.revoked
    ? `<p id="revoked">This key is revoked: every request with it gets 401.</p>`
    : `<form method="post" action="${escapeHtml(view.action)}"><button type="submit" name="action" value="revoke" id="revoke">Revoke key</button></form>`;
  return layout(
    "API key",
    `<h1>Key <span id="label">${escapeHtml(view.label)}</span></h1>
<p>SHA-256 <code id="hash">${escapeHtml(view.hash)}</code></p>
<dl id="key-settings">
${rows}
</dl>
${form}
<p class="note">Local OpenRouter emulator.</p>`,
  );
}

/** The key's activity (`/logs?api_key_hash=`): the spends recorded for it. */
export function logsPage(view: { hash: string; label: string; usage: number }): string {
  return layout(
    "Activity",
    `<h1>Activity of <span id="label">${escapeHtml(view.label)}</span></h1>
<p>SHA-256 <code id="hash">${escapeHtml(view.hash)}</code></p>
<p>Credits used: <strong id="usage">${escapeHtml(String(view.usage))}</strong></p>
<p class="note">Local OpenRouter emulator: no models, so no requests to list.</p>`,
  );
}

/** A 404 page (the key is not one of this user's). */
export function notFoundPage(): string {
  return layout("Not found", `<h1>Not found</h1><p id="not-found">There is no such key on this account.</p>`);
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
