// Probe (passes): odd callback URLs against a pending transaction, with junk in storage: every
// outcome is null, a result or a PkceError rejection; never a synchronous throw or a raw error.
import { afterEach, expect, it, vi } from "vitest";
import { PkceError, createFlow, oauth2, openRouter } from "../../src/index.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach } from "./helpers/page.ts";
import { MemoryStorage } from "./helpers/storage.ts";

restorePageAfterEach();
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const JUNK = ["null", "1", '"x"', "[]", "{", '{"codeVerifier":1}', '{"codeVerifier":"v","state":"s","createdAt":"1"}', '{"codeVerifier":"v","state":"s","createdAt":1e309}', '{"__proto__":{"codeVerifier":"v"},"state":"s","createdAt":1}'];

it("turns hostile callback URLs and junk storage into null or PkceError", async () => {
  vi.stubGlobal("close", () => {});
  vi.stubGlobal("BroadcastChannel", undefined);
  for (const make of [() => oauth2({ clientId: "spa", authorizationEndpoint: "https://as.example/a", tokenEndpoint: "https://as.example/t", redirectUri: pageUrl(), issuer: "https://as.example" }), () => openRouter({ callbackUrl: pageUrl(), baseUrl: "https://or.example" })]) {
    const storage = new MemoryStorage();
    JUNK.forEach((j, i) => storage.setItem(`pkce-flow:junk${i}`, j));
    storage.setItem("pkce-flow:s", '{"codeVerifier":"v","state":"s","createdAt":1,"provider":null}');
    const flow = createFlow(make(), { storage, fetch: fetchRecorder(() => json(200, {})).fetch, navigate: () => {} });
    await flow.authorize();
    const state = [...storage.data.values()].map((v) => JSON.parse(v)).find((t) => t?.provider && t.state !== "s")!.state as string;
    const p = pageUrl();
    const urls = [
      `${p}?code=`, `${p}?code=%`, `${p}?code=%E0%A4%A&state=${state}`, `${p}?code=a&code=b&state=${state}`, `${p}?c%6Fde=a&code=b&state=${state}`,
      `${p}?code=a&state=${state}&state=`, `${p}?code=a&state=${state}&iss=`, `${p}?code=a&state=${state}&iss=%00`, `${p}?code=a\u0000&state=${state}`,
      `${p}?error=x&state=${state}&error_uri=javascript:alert(1)`, `${p}?code=${"a".repeat(9000)}&state=${state}`, `${p}?${"x".repeat(9000)}=1&code=a&state=${state}`,
      `${p}?code=a&state=s`, `${p}?code=a&state=junk0`, `${p}?code=a`, `${p}?error=`, `${p}?code=a&state=pkce-popup.`, `${p}?code=a&access_token=b&state=${state}`,
      `${p}#code=a&state=${state}`, "not a url", "", "javascript:alert(1)?code=a", `blob:${location.origin}/x?code=a`, `${p}?code=a&state=${encodeURIComponent("\u00e9")}`,
    ];
    for (const url of urls) {
      let outcome: unknown;
      try {
        outcome = await flow.handleCallback(url).then((r) => r, (e) => e);
      } catch (e) {
        throw new Error(`synchronous throw for ${url.slice(0, 80)}: ${String(e)}`);
      }
      expect(outcome === null || outcome instanceof PkceError || (typeof outcome === "object" && outcome !== null), url.slice(0, 80)).toBe(true);
      if (outcome instanceof Error) expect(outcome, url.slice(0, 80)).toBeInstanceOf(PkceError);
      expect(typeof flow.isCallback(url)).toBe("boolean");
    }
  }
});
