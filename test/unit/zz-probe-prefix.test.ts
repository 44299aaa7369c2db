// Probe: flows with different key prefixes "never see each other's transactions" (DESIGN v0.2
// Keys). The page-wide in-flight map is keyed by provider id and URL only, so a flow whose prefix
// holds no transaction for the callback joins another prefix's exchange and resolves its result
// (e.g. an app with a "work:" and a "personal:" account on one server binds the work token to the
// personal account).
import { afterEach, expect, it, vi } from "vitest";
import { createFlow, oauth2 } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

it("a flow under another prefix resolves null for a callback it holds no transaction for", async () => {
  const storage = new MemoryStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "WORK-TOKEN", token_type: "Bearer" }));
  const provider = () => oauth2({ clientId: "spa", authorizationEndpoint: "https://as.example/authorize", tokenEndpoint: "https://as.example/token", redirectUri: pageUrl() });
  const work = createFlow(provider(), { storage, keyPrefix: "work:", fetch: recorder.fetch, navigate: () => {} });
  const personal = createFlow(provider(), { storage, keyPrefix: "personal:", fetch: recorder.fetch, navigate: () => {} });
  const state = (await work.authorize()).searchParams.get("state")!;
  const callback = `${pageUrl()}?code=C&state=${state}`;
  // Both flows handle the page's callback on load.
  const [w, p] = await Promise.all([work.handleCallback(callback), personal.handleCallback(callback)]);
  expect(w).toMatchObject({ accessToken: "WORK-TOKEN" });
  expect(p).toBeNull();
  expect(personal.status).toBe("idle");
});

it("two flows under different prefixes on one redirect URI: the one without the transaction does not kill the other's callback", async () => {
  const storage = new MemoryStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "A-TOKEN", token_type: "Bearer" }));
  const a = createFlow(oauth2({ clientId: "spa", authorizationEndpoint: "https://a.example/authorize", tokenEndpoint: "https://a.example/token", redirectUri: pageUrl() }), { storage, keyPrefix: "a:", fetch: recorder.fetch, navigate: () => {} });
  const b = createFlow(oauth2({ clientId: "spa", authorizationEndpoint: "https://b.example/authorize", tokenEndpoint: "https://b.example/token", redirectUri: pageUrl() }), { storage, keyPrefix: "b:", fetch: recorder.fetch, navigate: () => {} });
  const state = (await a.authorize()).searchParams.get("state")!;
  history.replaceState(null, "", `${pageUrl()}?code=C&state=${state}`);
  // The callback page handles both flows on load (b happens to come first).
  const [rb, ra] = await Promise.allSettled([b.handleCallback(), a.handleCallback()]);
  expect(ra).toMatchObject({ status: "fulfilled", value: { accessToken: "A-TOKEN" } });
  expect(rb).toEqual({ status: "fulfilled", value: null });
});
