/**
 * The demos' popup buttons in real Chromium, Firefox and WebKit: "Connect in a popup" on the ESM
 * OpenRouter demo (index.html, demo/main.ts) against the emulator, "Sign in in a popup" on the
 * OpenID Connect demo (demo/oauth2.html) against oidc-provider. The notes the user typed are still
 * there after sign-in, the page was never reloaded, and the servers' own logs show one token request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OidcServer } from "../../demo/oidc/server.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, type EnginePage } from "../support/engine.ts";
import { recordOidc, type OidcLog } from "../support/oidc-log.ts";
import { completeOidcLogin } from "../support/oidc-login.ts";

let servers: DemoServers & { oidc: OidcServer };
let oidcLog: OidcLog;

beforeAll(async () => {
  servers = await startDemo({ oidc: true });
  oidcLog = recordOidc(servers.oidc);
});
afterAll(async () => {
  await servers?.close();
});

const NOTES = "half-written notes\nsecond line";

/** Types the notes and marks this load of the page, so a reload would show. */
async function typeNotes(page: EnginePage): Promise<void> {
  await page.fill("#notes", NOTES);
  await page.evaluate(() => void (document.documentElement.dataset["loadMark"] = "kept"));
}

/** The notes are still there and this is the same load of the page, at the same address. */
async function expectPageKept(page: EnginePage, path: string): Promise<void> {
  expect(await page.evaluate(() => (document.getElementById("notes") as HTMLTextAreaElement).value)).toBe(NOTES);
  expect(await page.evaluate(() => document.documentElement.dataset["loadMark"] ?? null)).toBe("kept");
  expect(await page.url()).toBe(`${servers.app}${path}`);
  expect(await page.sessionStorageKeys("pkce-flow:")).toEqual([]);
}

forEachEngine((engine) => {
  let page: EnginePage;
  beforeEach(async () => {
    servers.emulator.emulator.reset();
    oidcLog.reset();
    page = await engine.newPage();
  });

  describe("the ESM demo: Connect in a popup", () => {
    it("Allow in the popup: the key is shown, the notes survive, one exchange, the popup closes", async () => {
      await page.goto(`${servers.app}/`);
      // The ES module demo has run once its first render gave #error a data-code.
      await page.waitForSelector("#error[data-code]", { state: "attached" });
      await page.fill("#key-label", "popup demo");
      await typeNotes(page);
      const [popup] = await Promise.all([page.waitForPopup(), page.click("#connect-popup")]);
      await popup.waitForURL((url) => url.href.startsWith(`${servers.emulator.url}/auth?`));
      await page.waitForSelector('#status[data-status="redirecting"]');
      await popup.click("#allow");
      await page.waitForSelector('#status[data-status="authorized"]');
      await popup.waitForClose();

      // Shown exactly as after a redirect: the masked key, the key's information.
      const [minted] = servers.emulator.emulator.log.keys;
      expect(await page.textContent("#key")).toBe(`${minted!.key.slice(0, 12)}…${minted!.key.slice(-4)}`);
      expect(await page.isVisible("#result")).toBe(true);
      await page.waitForSelector('#key-status[data-state="checked"]', { state: "attached" });
      expect(await page.textContent("#info-label")).toBe("popup demo");
      expect(await page.textContent("#error")).toBe("");

      const log = servers.emulator.emulator.log;
      expect(log.exchanges).toHaveLength(1);
      expect(log.exchanges[0]).toMatchObject({ status: 200, origin: servers.app });
      expect(log.authRequests[0]!.params["key_label"]).toBe("popup demo");
      // The same callback page as the redirect's, with a popup's state (OpenRouter carries it there).
      const callback = new URL(log.authRequests[0]!.params["callback_url"]!);
      expect(`${callback.origin}${callback.pathname}`).toBe(`${servers.app}/`);
      expect(callback.searchParams.get("target")).toBe("local");
      expect(callback.searchParams.get("state")).toMatch(/^pkce-popup\./);
      await expectPageKept(page, "/");
    });
  });

  describe("the OpenID Connect demo: Sign in in a popup", () => {
    it("signs in in the popup: tokens, claims and userinfo are shown, the notes survive, one token request", async () => {
      await page.goto(`${servers.app}/demo/oauth2.html`);
      await page.waitForSelector("#connect-popup:enabled");
      await typeNotes(page);
      const [popup] = await Promise.all([page.waitForPopup(), page.click("#connect-popup")]);
      await popup.waitForURL((url) => url.href.startsWith(`${servers.oidc.issuer}/interaction/`));
      await completeOidcLogin(popup, { login: "alice" });
      await page.waitForSelector('#status[data-status="authorized"]');
      await popup.waitForClose();

      expect(await page.textContent("#access-token")).toMatch(/^.{12}….{4}$/);
      expect(JSON.parse((await page.textContent("#claims"))!)).toMatchObject({ sub: "alice", iss: servers.oidc.issuer });
      await page.waitForSelector('#userinfo[data-state="ok"]', { state: "attached" });
      expect(JSON.parse((await page.textContent("#userinfo"))!)).toMatchObject({ sub: "alice" });
      expect(await page.textContent("#error")).toBe("");

      expect(oidcLog.tokenRequests).toHaveLength(1);
      expect(oidcLog.tokenRequests[0]).toMatchObject({ status: 200, params: { grant_type: "authorization_code" } });
      expect(oidcLog.authorizations[0]!.params["redirect_uri"]).toBe(`${servers.app}/demo/oauth2.html`);
      expect(oidcLog.authorizations[0]!.params["state"]).toMatch(/^pkce-popup\./);
      await expectPageKept(page, "/demo/oauth2.html");
    });
  });
});
