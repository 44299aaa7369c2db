// Probe: replay protection rests on removing the transaction before the token request. When the
// storage refuses removeItem (read-only / locked-down storage), store.remove swallows the error
// and the flow sends the code anyway, so the same callback can be exchanged again (reload, Back,
// another tab): fail closed instead.
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

class NoRemoveStorage extends MemoryStorage {
  override removeItem(): void {
    throw new DOMException("The operation is insecure.", "SecurityError");
  }
}

it("never sends the same callback's code twice when the transaction cannot be removed", async () => {
  const storage = new NoRemoveStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "at", token_type: "Bearer" }));
  const provider = oauth2({ clientId: "spa", authorizationEndpoint: "https://as.example/authorize", tokenEndpoint: "https://as.example/token", redirectUri: pageUrl() });
  const flow = createFlow(provider, { storage, fetch: recorder.fetch, navigate: () => {} });
  const state = (await flow.authorize()).searchParams.get("state")!;
  const callback = `${pageUrl()}?code=C&state=${state}`;
  await flow.handleCallback(callback).catch(() => {});
  // A reload of the same callback page (a new page: a new flow object).
  const again = createFlow(provider, { storage, fetch: recorder.fetch, navigate: () => {} });
  await again.handleCallback(callback).catch(() => {});
  expect(recorder.calls.length).toBeLessThanOrEqual(1);
});
