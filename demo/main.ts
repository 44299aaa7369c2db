// The "Connect OpenRouter" demo, written with the ESM build as an app would.
import {
  createFlow,
  getOpenRouterKey,
  isPkceError,
  openRouter,
  openRouterKeyLinks,
  type Flow,
  type FlowSnapshot,
  type OpenRouterKeyInfo,
  type OpenRouterKeySettings,
  type OpenRouterOptions,
  type OpenRouterResult,
} from "../src/index.ts";
import { demoSettings, maskKey } from "./shared.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>("settings");
const statusEl = $("status");
const errorEl = $("error");
const resultEl = $("result");
const keyStatusEl = $("key-status");

const { emulatorUrl } = demoSettings();
// Which server the callback belongs to travels in the callback URL itself (`?target=`).
const here = new URL(location.href);
const target = here.searchParams.get("target") === "openrouter" ? "openrouter" : "local";
$<HTMLSelectElement>("target").value = target;
const baseUrlOf = (to: string) => (to === "openrouter" ? "https://openrouter.ai" : emulatorUrl);

function provider(settings: Partial<OpenRouterOptions> = {}, to = target) {
  return openRouter({ ...settings, callbackUrl: `${location.origin}${location.pathname}?target=${to}`, baseUrl: baseUrlOf(to) });
}

const render = (snapshot: FlowSnapshot) => {
  statusEl.textContent = snapshot.status;
  statusEl.dataset["status"] = snapshot.status;
  showError(snapshot.error);
};
function showError(error: unknown): void {
  errorEl.textContent = error ? (isPkceError(error) ? `${error.code}: ${error.message}` : String(error)) : "";
  errorEl.dataset["code"] = error ? (isPkceError(error) ? error.code : "unknown") : "";
}

/** The key settings and server chosen in the form. */
function chosen(): [settings: OpenRouterKeySettings, to: string] {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const settings: OpenRouterKeySettings = {};
  if (text("keyLabel")) settings.keyLabel = text("keyLabel");
  if (text("limit")) settings.limit = Number(text("limit"));
  if (text("usageLimitType")) settings.usageLimitType = text("usageLimitType") as "daily";
  if (text("expiresAt")) settings.expiresAt = new Date(text("expiresAt"));
  return [settings, text("target") === "openrouter" ? "openrouter" : "local"];
}

const flow = createFlow(provider());
flow.subscribe(render);
render(flow.snapshot());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const [settings, to] = chosen();
  try {
    // A provider with this submit's settings; its id matches the one the callback page uses.
    await createFlow(provider(settings, to), {
      navigate: (url) => {
        render({ status: "redirecting" });
        location.assign(url);
      },
    }).start();
  } catch (error) {
    showError(error);
  }
});

// A popup keeps this page as it is (the notes, the form): the popup's own load of this page runs
// handleCallback() below, which hands the callback back here and closes the window.
$("connect-popup").addEventListener("click", () => {
  const [settings, to] = chosen();
  const popupFlow = createFlow(provider(settings, to));
  popupFlow.subscribe(render);
  // No await before popup(): the browser allows the window only while it handles the click.
  popupFlow.popup().then(
    (result) => connect(result.key, result.userId, to),
    () => {}, // shown through the subscription
  );
});

// --- Connected: the key, what OpenRouter says about it, and Disconnect -------------------------

// The key lives in memory; in localStorage only when the user ticks "Remember" (README: keeping
// the key). Another tab's Disconnect clears it there, and the `storage` event disconnects here.
const REMEMBER = "pkce-demo:openrouter-key";
let connected: { key: string; to: string } | null = null;

const money = (value: number | null, none: string) => (value === null ? none : `$${value}`);

function fill(info: OpenRouterKeyInfo): void {
  $("info-label").textContent = info.label;
  $("info-limit").textContent = money(info.limit, "none");
  $("info-remaining").textContent = money(info.limitRemaining, "no limit");
  $("info-reset").textContent = info.limitReset ?? "never";
  $("info-usage").textContent = money(info.usage, "");
  $("info-expires").textContent = info.expiresAt ?? "never";
  $("key-info").setAttribute("aria-busy", "false");
}

async function check(): Promise<void> {
  if (!connected) return;
  const { key, to } = connected;
  $("key-info").setAttribute("aria-busy", "true");
  try {
    fill(await getOpenRouterKey(key, { baseUrl: baseUrlOf(to) }));
    keyStatusEl.textContent = "";
    keyStatusEl.dataset["state"] = "checked";
  } catch (error) {
    if (isPkceError(error, "token_error") && error.status === 401) {
      // The key was revoked (on OpenRouter's key page, say) or has expired: the app forgets it.
      disconnect("The key was revoked or has expired (HTTP 401): disconnected.", "revoked");
    } else {
      keyStatusEl.textContent = `Could not read the key's information: ${isPkceError(error) ? error.code : String(error)}`;
      keyStatusEl.dataset["state"] = "error";
    }
  }
}

async function connect(key: string, userId: string | null, to: string): Promise<void> {
  connected = { key, to };
  resultEl.hidden = false;
  $("key").textContent = maskKey(key);
  $("user").textContent = userId ?? "(none)";
  const { settingsUrl, logsUrl } = await openRouterKeyLinks(key, { baseUrl: baseUrlOf(to) });
  $<HTMLAnchorElement>("manage-key").href = settingsUrl.href;
  $<HTMLAnchorElement>("activity").href = logsUrl.href;
  // The user chose to remember a key on this device: the newest one replaces it.
  const remember = localStorage.getItem(REMEMBER) !== null;
  if (remember) localStorage.setItem(REMEMBER, JSON.stringify(connected));
  $<HTMLInputElement>("remember").checked = remember;
  await check();
}

function disconnect(message: string, state: string): void {
  connected = null;
  localStorage.removeItem(REMEMBER);
  resultEl.hidden = true;
  $("key").textContent = "";
  for (const id of ["info-label", "info-limit", "info-remaining", "info-reset", "info-usage", "info-expires"]) $(id).textContent = "";
  keyStatusEl.textContent = message;
  keyStatusEl.dataset["state"] = state;
}

$("check-key").addEventListener("click", () => void check());
$("disconnect").addEventListener("click", () => disconnect("Disconnected: this page forgot the key. Revoke it under Manage key.", "disconnected"));
$<HTMLInputElement>("remember").addEventListener("change", (event) => {
  if (!connected) return;
  if ((event.target as HTMLInputElement).checked) localStorage.setItem(REMEMBER, JSON.stringify(connected));
  else localStorage.removeItem(REMEMBER);
});
addEventListener("storage", (event) => {
  if (event.key === REMEMBER && event.newValue === null && connected) disconnect("Disconnected in another tab.", "disconnected");
});
$("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(connected!.key);
    $("copy").textContent = "Copied";
  } catch {
    $("copy").textContent = "Copy failed";
  }
});

// --- Can't redirect? Paste a code: the headless mode ------------------------------------------

let headless: Flow<OpenRouterResult> | null = null;
let headlessTo = target;

// The headless flow for a server, shown through the same status line. Key settings go into the
// authorization URL only, so a flow made again after a reload (without them) finds the same
// pending transaction: the provider id depends on the server alone.
function headlessFlow(to: string, settings: OpenRouterKeySettings = {}): Flow<OpenRouterResult> {
  headlessTo = to;
  headless = createFlow(openRouter({ ...settings, headless: true, baseUrl: baseUrlOf(to) }));
  headless.subscribe(render);
  return headless;
}

$("headless-start").addEventListener("click", async () => {
  const [settings, to] = chosen();
  try {
    const link = $<HTMLAnchorElement>("headless-link");
    link.href = (await headlessFlow(to, settings).authorize()).href;
    link.hidden = false;
  } catch (error) {
    showError(error);
  }
});

$<HTMLFormElement>("paste-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("paste-code");
  try {
    const result = await (headless ?? headlessFlow(chosen()[1])).exchangeCode(input.value);
    input.value = "";
    await connect(result.key, result.userId, headlessTo);
  } catch (error) {
    // Shown through the subscription; a bad paste keeps the sign-in pending for a corrected one.
    if (!headless) showError(error);
  }
});

// --- On every load: the callback of a redirect, or a remembered key ----------------------------

try {
  const result = await flow.handleCallback();
  if (result) await connect(result.key, result.userId, target);
  // (A popup's callback page has handed its callback back and is closing: nothing more to do.)
  else if (!window.closed) {
    const remembered = localStorage.getItem(REMEMBER);
    if (remembered) {
      const { key, to } = JSON.parse(remembered) as { key: string; to: string };
      await connect(key, null, to);
    }
  }
} catch {
  // Shown through the subscription.
}
