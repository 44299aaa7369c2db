/**
 * The popup e2e page (./index.html), written as an app would: a draft the user types, a "Connect
 * in a popup" button whose click handler calls `flow.popup()` before any await, and
 * `handleCallback()` on every load, which in the popup hands the callback back and closes it.
 *
 * Switches in the query, kept in the callback URL so the popup loads the same page with the same
 * provider: `provider=oidc` (the OpenID Connect server; else the OpenRouter emulator) and
 * `detectClose=0`.
 *
 * What a test cannot read from a window that has closed itself (WebDriver has no URL for it), the
 * popup leaves in localStorage, which its opener shares: `popup-e2e:closed:<load id>` = the last
 * address the library gave the popup's address bar, the one it closed with.
 */
import { createFlow, discover, openRouter, type Flow, type FlowSnapshot } from "../../../src/index.ts";
import { demoSettings, maskKey } from "../../../demo/shared.ts";

declare global {
  interface Window {
    /** Whether the window popup() opened looks closed from here (`null` before one was opened). */
    popupLooksClosed(): boolean | null;
    /** One entry per `window.open` call: did the browser give the page a window? */
    opened: boolean[];
  }
}

const $ = (id: string) => document.getElementById(id)!;
const query = new URLSearchParams(location.search);
const { emulatorUrl, oidcIssuer, oidcClientId } = demoSettings();
// This page with its switches and without the callback parameters: the redirect URI.
const settings = new URLSearchParams();
for (const name of ["provider", "detectClose"]) if (query.has(name)) settings.set(name, query.get(name)!);
const here = `${location.origin}${location.pathname}${settings.size ? `?${settings}` : ""}`;

// Keeps the handle the library opens, so a test can see whether a Cross-Origin-Opener-Policy cut it.
let handle: Window | null = null;
const open = window.open.bind(window);
window.opened = [];
window.open = (...args) => {
  handle = open(...args);
  window.opened.push(handle !== null);
  return handle;
};
window.popupLooksClosed = () => handle?.closed ?? null;

// Proves the page was never reloaded: a new value on every load.
const loaded = crypto.randomUUID();
$("loaded").textContent = loaded;

// Loaded as a popup's callback: writes down each address the library gives the address bar, the
// last of which the window closes with. (Nothing can be written after handleCallback() resolves:
// WebKit runs no more script once the window has called close().)
if (query.get("state")?.startsWith("pkce-popup.")) {
  const replaceState = history.replaceState.bind(history);
  history.replaceState = (...args) => {
    replaceState(...args);
    localStorage.setItem(`popup-e2e:closed:${loaded}`, location.href);
  };
}

const show = (snapshot: FlowSnapshot) => {
  $("status").textContent = snapshot.status;
  $("status").dataset["status"] = snapshot.status;
  $("error").textContent = snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : "";
  $("error").dataset["code"] = snapshot.error?.code ?? "";
};

async function oidcFlow() {
  const provider = await discover(oidcIssuer!, { clientId: oidcClientId, redirectUri: here, scope: ["openid", "profile"] });
  const flow = createFlow(provider);
  return { flow: flow as Flow<unknown>, shown: (r: unknown) => maskKey((r as { accessToken: string }).accessToken) };
}

function openRouterFlow() {
  const flow = createFlow(openRouter({ callbackUrl: here, baseUrl: emulatorUrl, keyLabel: "popup e2e" }));
  return { flow: flow as Flow<unknown>, shown: (r: unknown) => maskKey((r as { key: string }).key) };
}

// Discovery happens on load, never in the click: the click must reach popup() with no await first.
const { flow, shown } = query.get("provider") === "oidc" ? await oidcFlow() : openRouterFlow();
flow.subscribe(show);
show(flow.snapshot());

$("connect").addEventListener("click", () => {
  flow.popup({ detectClose: query.get("detectClose") !== "0" }).then(
    (result) => ($("result").textContent = shown(result)),
    () => {}, // shown through the subscription
  );
});
$("connect").removeAttribute("disabled");

// `autostart=1`: calls popup() on load, outside any user gesture, as a browser's popup blocker sees
// a popup() that comes too late (after an await). Not kept in the callback URL.
if (query.get("autostart") === "1") flow.popup().catch(() => {});

// In the popup: relays the callback to the opening tab, cleans the address bar and closes.
await flow.handleCallback().catch(() => null);
