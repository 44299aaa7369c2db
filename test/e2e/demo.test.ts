import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { decideConsent, startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, type EnginePage } from "../support/engine.ts";

let servers: DemoServers;

beforeAll(async () => {
  servers = await startDemo();
});
afterAll(async () => {
  await servers?.close();
});

const exchanges = () => servers.emulator.emulator.log.exchanges;

/**
 * The callback URL the emulator sent the browser to after Allow, rebuilt from its own log the way
 * demo/emulator/consent.ts builds it (the callback_url as given, then `code`): no driver here can
 * report navigations, the servers' logs can.
 */
function callbackOfFirstExchange(): string {
  const callback = new URL(servers.emulator.emulator.log.authRequests[0]!.params["callback_url"]!).href;
  const code = (exchanges()[0]!.body as { code: string }).code;
  const separator = callback.endsWith("?") || callback.endsWith("&") ? "" : new URL(callback).search === "" ? "?" : "&";
  return `${callback}${separator}${new URLSearchParams({ code })}`;
}

forEachEngine((engine) => {
  let page: EnginePage;
  beforeEach(async () => {
    servers.emulator.emulator.reset();
    page = await engine.newPage();
  });

  const status = (value: string) => page.waitForSelector(`#status[data-status="${value}"]`);
  const pkceKeys = () => page.sessionStorageKeys("pkce-flow:");

  async function connect(path: string, fill?: (page: EnginePage) => Promise<void>) {
    await page.goto(`${servers.app}${path}`);
    // Until the ES module demo has run (its first render gives #error a data-code), #connect is a
    // plain submit button; a WebKit run once clicked it that early. (The script-tag page's
    // classic script runs before its load event.)
    if (path === "/") await page.waitForSelector("#error[data-code]", { state: "attached" });
    await fill?.(page);
    await Promise.all([page.waitForURL(`${servers.emulator.url}/auth?**`), page.click("#connect")]);
  }

  describe("the ESM demo against the emulator on another origin", () => {
    it("completes Allow: the key is shown masked, the address bar and storage are clean", async () => {
      await connect("/", async (p) => {
        await p.fill("#key-label", "e2e <b>label</b>");
        await p.fill("#limit", "5");
        await p.selectOption("#usage-limit-type", "weekly");
        await p.fill("#expires-at", "2099-01-02T03:04");
      });
      expect(await page.textContent("#settings")).toContain("e2e <b>label</b>");
      await Promise.all([page.waitForURL(`${servers.app}/?**`), page.click("#allow")]);
      await status("authorized");

      const [minted] = servers.emulator.emulator.log.keys;
      const shown = await page.textContent("#key");
      expect(shown).toMatch(/^sk-or-v1-.{3}….{4}$/);
      expect(shown).toBe(`${minted!.key.slice(0, 12)}…${minted!.key.slice(-4)}`);
      expect(await page.textContent("#error")).toBe("");

      const url = new URL(await page.url());
      expect(url.searchParams.has("code")).toBe(false);
      expect(url.searchParams.has("state")).toBe(false);
      expect(url.searchParams.get("target")).toBe("local");
      expect(await pkceKeys()).toEqual([]);

      expect(exchanges()).toHaveLength(1);
      expect(exchanges()[0]).toMatchObject({ status: 200, authorization: false, contentType: "application/json" });
      expect(exchanges()[0]!.origin).toBe(servers.app);
      const params = servers.emulator.emulator.log.authRequests[0]!.params;
      expect(params).toMatchObject({
        key_label: "e2e <b>label</b>",
        limit: "5",
        usage_limit_type: "weekly",
        code_challenge_method: "S256",
      });
      expect(params["expires_at"]).toMatch(/^2099-01-0[12]T\d\d:04:00Z$/);
      expect(minted).toMatchObject({ keyLabel: "e2e <b>label</b>", limit: 5, usageLimitType: "weekly" });

      // The README's screenshot, on request only (`npm run screenshot`), so `npm test` leaves the
      // tree as it found it; from Chromium, so it does not change with the engine order.
      if (engine.name === "chromium" && process.env.PKCE_UPDATE_SCREENSHOT === "1") {
        const docs = fileURLToPath(new URL("../../docs/", import.meta.url));
        mkdirSync(docs, { recursive: true });
        await page.screenshot({ path: `${docs}demo.png`, fullPage: true });
      }
    });

    it("shows authorization_error when the user denies", async () => {
      await connect("/");
      await Promise.all([page.waitForURL(`${servers.app}/?**`), page.click("#deny")]);
      await status("failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
      expect(await page.textContent("#error")).toContain("access_denied");
      expect(exchanges()).toHaveLength(0);
      expect(await pkceKeys()).toEqual([]);
      expect(new URL(await page.url()).searchParams.has("error")).toBe(false);
    });

    it("answers no_transaction when the used callback URL is loaded again: address bar cleaned, nothing exchanged twice", async () => {
      await connect("/");
      await Promise.all([page.waitForURL(`${servers.app}/?**`), page.click("#allow")]);
      await status("authorized");
      await page.reload();
      await status("idle");
      // Loading the very URL that carried the code (and the state of a sign-in that has ended) again:
      // DESIGN.md "Which callbacks are whose", rule 4.
      const callback = new URL(callbackOfFirstExchange());
      expect(callback.searchParams.get("code")).toBeTruthy();
      expect(callback.searchParams.get("state")).toBeTruthy();
      await page.goto(callback.href);
      await status("failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("no_transaction");
      const url = new URL(await page.url());
      expect(url.searchParams.has("code")).toBe(false);
      expect(url.searchParams.has("state")).toBe(false);
      expect(exchanges()).toHaveLength(1);
      expect(await pkceKeys()).toEqual([]);
      expect(await page.isHidden("#result")).toBe(true);
    });

    it("exchanges nothing again and keeps no transaction when the user goes Back to the callback after signing in", async () => {
      await connect("/");
      await Promise.all([page.waitForURL(`${servers.app}/?**`), page.click("#allow")]);
      await status("authorized");
      // Away to another page, then Back: a back/forward cache restore (Chromium, WebKit) or a fresh
      // load of the cleaned-up address (Firefox here, see test/support/engine-playwright.ts).
      await page.goto(`${servers.app}/demo/script-tag.html`);
      await status("idle");
      await page.goBack();
      await page.waitForURL((url) => url.origin === servers.app && url.pathname === "/");
      await page.waitForFunction(() => document.readyState === "complete");
      expect(new URL(await page.url()).searchParams.has("code")).toBe(false);
      expect(["authorized", "idle"]).toContain(await page.getAttribute("#status", "data-status"));
      expect(await page.textContent("#error")).toBe("");
      expect(exchanges()).toHaveLength(1);
      expect(await pkceKeys()).toEqual([]);
    });

    it("fails with state_mismatch and exchanges nothing when the callback's state was tampered with", async () => {
      await connect("/");
      // Decide on the consent page from here, so the callback URL can be altered before the page loads it.
      const callback = new URL(await decideConsent(page, servers.emulator.url));
      expect(callback.searchParams.get("code")).toBeTruthy();
      callback.searchParams.set("state", "tampered");
      await page.goto(callback.href);
      await status("failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("state_mismatch");
      expect(exchanges()).toHaveLength(0);
    });
  });

  describe("the script-tag demo", () => {
    it("completes Allow with window.PkceFlow only", async () => {
      await connect("/demo/script-tag.html", (p) => p.fill("#key-label", "script tag"));
      await Promise.all([page.waitForURL(`${servers.app}/demo/script-tag.html?**`), page.click("#allow")]);
      await status("authorized");
      expect(await page.textContent("#key")).toMatch(/^sk-or-v1-.{3}….{4}$/);
      expect(new URL(await page.url()).search).toBe("");
      expect(await pkceKeys()).toEqual([]);
      expect(exchanges()).toHaveLength(1);
      expect(servers.emulator.emulator.log.authRequests[0]!.params["key_label"]).toBe("script tag");
    });

    it("shows authorization_error when the user denies", async () => {
      await connect("/demo/script-tag.html");
      await Promise.all([page.waitForURL(`${servers.app}/demo/script-tag.html?**`), page.click("#deny")]);
      await status("failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
      expect(exchanges()).toHaveLength(0);
    });
  });
});
