// Probe: RFC 9700 4.4.2.2 mix-up defense via distinct redirect URIs. Two oauth2() providers on one
// page, each with its own redirect URI, and neither server sends `iss` (most do not). Server A
// answers on A's redirect URI with the state of a transaction that was started with server B
// (the attacker redirected the user from B's authorization endpoint to A's). Flow B must refuse a
// callback that did not arrive at the redirect URI its transaction used; it exchanges A's code at
// B's token endpoint instead, together with the PKCE verifier.
import { afterEach, expect, it, vi } from "vitest";
import { createFlow, oauth2 } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach, showInAddressBar } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

it("does not exchange a callback that arrived at another provider's redirect URI (mix-up)", async () => {
  const storage = new MemoryStorage();
  const base = pageUrl().replace(/\/[^/]*$/, "");
  const honest = oauth2({ clientId: "spa", authorizationEndpoint: "https://honest.example/authorize", tokenEndpoint: "https://honest.example/token", redirectUri: `${base}/cb-honest` });
  const evil = oauth2({ clientId: "spa", authorizationEndpoint: "https://evil.example/authorize", tokenEndpoint: "https://evil.example/token", redirectUri: `${base}/cb-evil` });
  const recorder = fetchRecorder(() => json(200, { access_token: "at", token_type: "Bearer" }));
  const flowHonest = createFlow(honest, { storage, fetch: recorder.fetch, navigate: () => {} });
  const flowEvil = createFlow(evil, { storage, fetch: recorder.fetch, navigate: () => {} });

  // The user picks the (attacker's) server B.
  const authUrl = await flowEvil.authorize();
  const state = authUrl.searchParams.get("state")!;
  // B redirects to A with B's state; A sends the user back to A's redirect URI.
  const callback = `${base}/cb-honest?code=HONEST-CODE&state=${state}`;
  showInAddressBar(callback);
  // The app handles callbacks of both flows on every page load.
  const results = await Promise.allSettled([flowHonest.handleCallback(callback), flowEvil.handleCallback(callback)]);

  // Nothing may go to B's token endpoint: the response arrived at A's redirect URI, not at B's.
  expect(recorder.calls.map((c) => c.request.url)).toEqual([]);
});

it("popup: does not exchange a relayed callback that came back to another provider's redirect URI (mix-up)", async () => {
  const base = pageUrl().replace(/\/[^/]*$/, "");
  const evil = oauth2({ clientId: "spa", authorizationEndpoint: "https://evil.example/authorize", tokenEndpoint: "https://evil.example/token", redirectUri: `${base}/cb-evil` });
  const recorder = fetchRecorder(() => json(200, { access_token: "at", token_type: "Bearer" }));
  const win = { closed: false, location: "", close() {} };
  vi.stubGlobal("open", () => win);
  vi.stubGlobal("BroadcastChannel", undefined);
  const flowEvil = createFlow(evil, { fetch: recorder.fetch });
  const promise = flowEvil.popup({ detectClose: false });
  promise.catch(() => {});
  while (!win.location) await new Promise((r) => setTimeout(r, 1));
  const state = new URL(win.location).searchParams.get("state")!;
  // The evil server sent the popup on to the honest server with this state; the honest server
  // answered on the honest redirect URI, whose page relays the callback to the opener.
  const relayed = `${base}/cb-honest?code=HONEST-CODE&state=${state}`;
  globalThis.dispatchEvent(new MessageEvent("message", { data: { "pkce-flow:popup": relayed }, origin: location.origin, source: win as unknown as Window }));
  await promise.catch(() => {});
  expect(recorder.calls.map((c) => c.request.url)).toEqual([]);
  vi.unstubAllGlobals();
});
