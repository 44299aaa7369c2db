// Probe: cleaning the address bar when the page's path starts with "//" (any SPA host serves its
// index for https://app//evil.example/...). cleanAddressBar passes `current.pathname + search +
// hash` to history.replaceState: "//evil.example/..." is a scheme-relative URL, i.e. another
// origin, so a browser throws SecurityError, synchronously and as a raw DOMException.
import { afterEach, expect, it, vi } from "vitest";
import { PkceError, createFlow, oauth2 } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const provider = () => oauth2({ clientId: "spa", authorizationEndpoint: "https://as.example/authorize", tokenEndpoint: "https://as.example/token", redirectUri: pageUrl() });

// What every browser does with a cross-origin replaceState URL.
function browserLikeReplaceState() {
  const original = history.replaceState.bind(history);
  const targets: string[] = [];
  vi.spyOn(history, "replaceState").mockImplementation((data, unused, url) => {
    targets.push(String(url));
    if (url != null && new URL(String(url), document.baseURI).origin !== location.origin) throw new DOMException("replaceState: cross-origin URL", "SecurityError");
    original(data, unused, url);
  });
  return targets;
}

it("rule 0 (popup-style state) on a //-path page: cleaning stays same-origin, any failure is a PkceError", async () => {
  const flow = createFlow(provider(), { storage: new MemoryStorage() });
  const href = `${location.origin}//evil.example/cb?code=C&state=pkce-popup.x`;
  history.replaceState(null, "", href);
  const targets = browserLikeReplaceState();
  vi.stubGlobal("close", () => {});
  let error: unknown = null;
  await flow.handleCallback().catch((e) => (error = e));
  expect(targets.map((t) => new URL(t, location.href).origin)).toEqual([location.origin]);
  expect(error === null || error instanceof PkceError).toBe(true);
  vi.unstubAllGlobals();
});

it("rule 1 on a //-path page: handleCallback never throws synchronously (every throw is a rejection)", async () => {
  const storage = new MemoryStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "at", token_type: "Bearer" }));
  const flow = createFlow(provider(), { storage, fetch: recorder.fetch, navigate: () => {} });
  const state = (await flow.authorize()).searchParams.get("state")!;
  history.replaceState(null, "", `${location.origin}//evil.example/cb?code=C&state=${state}`);
  browserLikeReplaceState();
  let sync: unknown = null;
  let promise: Promise<unknown> | undefined;
  try {
    promise = flow.handleCallback();
  } catch (e) {
    sync = e;
  }
  await promise?.catch(() => {});
  expect(sync).toBeNull();
});

it("a page with a cross-origin <base href> (assets on a CDN): cleaning resolves against the page, not the base", async () => {
  const storage = new MemoryStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "at", token_type: "Bearer" }));
  const flow = createFlow(provider(), { storage, fetch: recorder.fetch, navigate: () => {} });
  const state = (await flow.authorize()).searchParams.get("state")!;
  history.replaceState(null, "", `${pageUrl()}?code=C&state=${state}`);
  const base = document.createElement("base");
  base.href = "https://cdn.example/app/";
  document.head.append(base);
  try {
    expect(document.baseURI).toBe("https://cdn.example/app/");
    browserLikeReplaceState();
    let outcome: unknown = "none";
    try {
      await flow.handleCallback();
    } catch (e) {
      outcome = e;
    }
    expect(outcome).toBe("none");
    expect(location.search).toBe("");
  } finally {
    base.remove();
  }
});
