// Probe: a flow sweeps every expired-looking entry under its prefix by ITS OWN ttlMs, including
// the pending transactions of another provider's flow that shares the prefix and was given a
// longer ttlMs. That flow's sign-in, still valid by its own TTL, is then refused.
import { afterEach, expect, it, vi } from "vitest";
import { createFlow, oauth2 } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

it("does not sweep another provider's transaction that is still valid by that flow's ttlMs", async () => {
  const storage = new MemoryStorage();
  const recorder = fetchRecorder(() => json(200, { access_token: "B-TOKEN", token_type: "Bearer" }));
  const mk = (host: string, ttlMs: number) =>
    createFlow(oauth2({ clientId: "spa", authorizationEndpoint: `https://${host}/authorize`, tokenEndpoint: `https://${host}/token`, redirectUri: pageUrl() }), { storage, ttlMs, fetch: recorder.fetch, navigate: () => {} });
  const a = mk("a.example", 10 * 60_000); // default-like TTL
  const b = mk("b.example", 60 * 60_000); // this sign-in may take an hour
  let now = 1_900_000_000_000;
  vi.spyOn(Date, "now").mockImplementation(() => now);
  const state = (await b.authorize()).searchParams.get("state")!;
  now += 15 * 60_000; // 15 minutes later the user clicks A's button
  await a.authorize();
  const result = await b.handleCallback(`${pageUrl()}?code=C&state=${state}`).catch((e) => e);
  expect(result).toMatchObject({ accessToken: "B-TOKEN" });
});
