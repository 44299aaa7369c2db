// The "Connect OpenRouter" demo, written with the ESM build as an app would.
import { createFlow, isPkceError, openRouter, type FlowSnapshot, type OpenRouterOptions } from "../src/index.ts";
import { demoSettings, maskKey } from "./shared.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>("settings");
const statusEl = $("status");
const errorEl = $("error");
const resultEl = $("result");

const { emulatorUrl } = demoSettings();
// Which server the callback belongs to travels in the callback URL itself (`?target=`).
const here = new URL(location.href);
const target = here.searchParams.get("target") === "openrouter" ? "openrouter" : "local";
$<HTMLSelectElement>("target").value = target;

function provider(settings: Partial<OpenRouterOptions> = {}, to = target) {
  return openRouter({
    ...settings,
    callbackUrl: `${location.origin}${location.pathname}?target=${to}`,
    baseUrl: to === "openrouter" ? "https://openrouter.ai" : emulatorUrl,
  });
}

const flow = createFlow(provider());
const render = (snapshot: FlowSnapshot) => {
  statusEl.textContent = snapshot.status;
  statusEl.dataset["status"] = snapshot.status;
  errorEl.textContent = snapshot.error ? `${snapshot.error.code}: ${snapshot.error.message}` : "";
  errorEl.dataset["code"] = snapshot.error?.code ?? "";
};
flow.subscribe(render);
render(flow.snapshot());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const settings: Partial<OpenRouterOptions> = {};
  if (text("keyLabel")) settings.keyLabel = text("keyLabel");
  if (text("limit")) settings.limit = Number(text("limit"));
  if (text("usageLimitType")) settings.usageLimitType = text("usageLimitType") as "daily";
  if (text("expiresAt")) settings.expiresAt = new Date(text("expiresAt"));
  const to = text("target") === "openrouter" ? "openrouter" : "local";
  try {
    // A provider with this submit's settings; its id matches the one the callback page uses.
    await createFlow(provider(settings, to), {
      navigate: (url) => {
        render({ status: "redirecting" });
        location.assign(url);
      },
    }).start();
  } catch (error) {
    errorEl.textContent = isPkceError(error) ? `${error.code}: ${error.message}` : String(error);
    errorEl.dataset["code"] = isPkceError(error) ? error.code : "unknown";
  }
});

try {
  const result = await flow.handleCallback();
  if (result) {
    resultEl.hidden = false;
    $("key").textContent = maskKey(result.key);
    $("user").textContent = result.userId ?? "(none)";
    $("copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(result.key);
        $("copy").textContent = "Copied";
      } catch {
        $("copy").textContent = "Copy failed";
      }
    });
  }
} catch {
  // Shown through the subscription.
}
