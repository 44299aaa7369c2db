/**
 * Popup sign-in (flow.popup()) in real Chromium, Firefox and WebKit, against the OpenRouter
 * emulator and oidc-provider on loopback: the pages under test/e2e/popup/ open the popup from a
 * click, the popup's own handleCallback() hands the callback back and closes the window, and the
 * opening page, which was never reloaded, exchanges the code once. What went to the servers is read
 * from their own logs, which every engine can be checked against.
 */
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OidcServer } from "../../demo/oidc/server.ts";
import { CHROMIUM } from "../../vite.config.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, type EngineHandle, type EnginePage } from "../support/engine.ts";
import { recordOidc, type OidcLog } from "../support/oidc-log.ts";
import { cancelOidcConsent, completeOidcLogin } from "../support/oidc-login.ts";

const OPENROUTER_PAGE = "/test/e2e/popup/index.html";
const OIDC_PAGE = "/test/e2e/popup/index.html?provider=oidc";

let servers: DemoServers & { oidc: OidcServer };
/** What oidc-provider saw: its token requests (granted or refused) among them. */
let oidcLog: OidcLog;

beforeAll(async () => {
  servers = await startDemo({ oidc: true, oidcCallbackPaths: [OIDC_PAGE] });
  oidcLog = recordOidc(servers.oidc);
});
afterAll(async () => {
  await servers?.close();
});

/** The emulator's own log, over HTTP. */
async function emulatorLog(): Promise<{ exchanges: Array<{ status: number; origin: string | null }>; authRequests: Array<{ params: Record<string, string> }> }> {
  const response = await fetch(`${servers.emulator.url}/__emulator/log`);
  return (await response.json()) as never;
}

/** Turns the emulator's Cross-Origin-Opener-Policy on its consent page on (`reset()` turns it off). */
async function emulatorCoop(coop: boolean): Promise<void> {
  const response = await fetch(`${servers.emulator.url}/__emulator/config`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ coop }),
  });
  expect(await response.json()).toEqual({ coop });
}

const status = (p: EnginePage, value: string) => p.waitForSelector(`#status[data-status="${value}"]`);
const pkceKeys = (p: EnginePage) => p.sessionStorageKeys("pkce-flow:");

/** Opens the page and types a draft into it; gives the page's load id (new on every load). */
async function openPage(p: EnginePage, path: string, draft: string): Promise<string> {
  await p.goto(`${servers.app}${path}`);
  // The module has run once the button is enabled (click waits for that too): only then type.
  await p.waitForSelector("#connect:enabled");
  await p.fill("#note", draft);
  return (await p.textContent("#loaded"))!;
}

/** Clicks "Connect in a popup" and gives the popup once it shows the server's page. */
async function connect(p: EnginePage, atServer: (url: URL) => boolean): Promise<EnginePage> {
  const [popup] = await Promise.all([p.waitForPopup(), p.click("#connect")]);
  await popup.waitForURL(atServer);
  await status(p, "redirecting");
  return popup;
}

const atEmulator = (url: URL) => url.href.startsWith(`${servers.emulator.url}/auth?`);
const atInteraction = (url: URL) => url.href.startsWith(`${servers.oidc.issuer}/interaction/`);

/** The opening page kept what the user typed and was never reloaded. */
async function expectPageKept(p: EnginePage, path: string, draft: string, loaded: string): Promise<void> {
  expect(await p.evaluate(() => (document.getElementById("note") as HTMLInputElement).value)).toBe(draft);
  expect(await p.textContent("#loaded")).toBe(loaded);
  expect(await p.url()).toBe(`${servers.app}${path}`);
  expect(await pkceKeys(p)).toEqual([]);
}

/**
 * The addresses the popups of this context showed when they closed themselves, written down by
 * the popup page (test/e2e/popup/page.ts) in the localStorage the opener shares.
 */
const closedPopupUrls = (p: EnginePage) =>
  p.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("popup-e2e:closed:")).map((key) => localStorage.getItem(key)!));

/**
 * The popup closed itself after its callback page, whose address bar it had cleaned; `count`
 * popups of this context have done so by now.
 */
async function expectPopupClosedClean(opener: EnginePage, popup: EnginePage, count = 1): Promise<void> {
  await popup.waitForClose();
  // A popup in another process (one whose opener was cut) writes to the opener's localStorage
  // through its own copy, which the opener hears of a moment later.
  await expect.poll(async () => (await closedPopupUrls(opener)).length, { timeout: 5_000 }).toBe(count);
  const urls = await closedPopupUrls(opener);
  for (const href of urls) {
    const last = new URL(href);
    expect(last.origin + last.pathname).toBe(`${servers.app}${OPENROUTER_PAGE}`);
    for (const name of ["code", "state", "iss", "error", "error_description"]) expect(last.searchParams.has(name)).toBe(false);
  }
}

forEachEngine((engine) => {
  let page: EnginePage;
  beforeEach(async () => {
    servers.emulator.emulator.reset();
    oidcLog.reset();
    page = await engine.newPage();
  });

  describe("popup sign-in against the OpenRouter emulator", () => {
    it("Allow: the opening page gets the key with one exchange and keeps its state; the popup closes itself", async () => {
      const loaded = await openPage(page, OPENROUTER_PAGE, "half-written chat");
      const popup = await connect(page, atEmulator);
      await popup.click("#allow");
      await status(page, "authorized");
      await expectPopupClosedClean(page, popup);

      // The popup was sent back with a popup state; the opening page exchanged the code, once.
      const log = await emulatorLog();
      expect(log.authRequests).toHaveLength(1);
      const callbackUrl = new URL(log.authRequests[0]!.params["callback_url"]!);
      expect(callbackUrl.origin + callbackUrl.pathname).toBe(`${servers.app}${OPENROUTER_PAGE}`);
      expect(callbackUrl.searchParams.get("state")).toMatch(/^pkce-popup\.[A-Za-z0-9_-]{43}$/);
      expect(log.exchanges).toHaveLength(1);
      expect(log.exchanges[0]).toMatchObject({ status: 200, origin: servers.app });
      expect(await page.textContent("#result")).toMatch(/^sk-or-v1-.{3}….{4}$/);
      expect(await page.textContent("#error")).toBe("");
      await expectPageKept(page, OPENROUTER_PAGE, "half-written chat", loaded);
    });

    it("Deny: authorization_error on the opening page, no exchange", async () => {
      const loaded = await openPage(page, OPENROUTER_PAGE, "draft");
      const popup = await connect(page, atEmulator);
      await popup.click("#deny");
      await status(page, "failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
      expect(await page.textContent("#error")).toContain("access_denied");
      await expectPopupClosedClean(page, popup);
      expect((await emulatorLog()).exchanges).toHaveLength(0);
      await expectPageKept(page, OPENROUTER_PAGE, "draft", loaded);
    });

    it("the user closes the popup: popup_closed within about a second, nothing left behind", async () => {
      const loaded = await openPage(page, OPENROUTER_PAGE, "draft");
      const popup = await connect(page, atEmulator);
      const closedAt = Date.now();
      await popup.close();
      await status(page, "failed");
      // The poll sees the window closed within 250 ms and waits 500 ms more for a relay in flight.
      // The bound leaves the drivers of a loaded machine their seconds; a flow that waited for
      // anything else (its ttl is minutes) would still miss it by far.
      expect(Date.now() - closedAt).toBeLessThan(5_000);
      expect(await page.getAttribute("#error", "data-code")).toBe("popup_closed");
      expect((await emulatorLog()).exchanges).toHaveLength(0);
      expect(await closedPopupUrls(page)).toEqual([]);
      await expectPageKept(page, OPENROUTER_PAGE, "draft", loaded);
    });

    it("a consent page with Cross-Origin-Opener-Policy cuts the opener: with detectClose: false the channel still hands the callback back", async () => {
      await emulatorCoop(true);
      const path = `${OPENROUTER_PAGE}?detectClose=0`;
      const loaded = await openPage(page, path, "draft under COOP");
      const popup = await connect(page, atEmulator);
      // The popup is open at the consent page, yet the opener's handle says closed: COOP cut it.
      expect(await popup.isClosed()).toBe(false);
      expect(await page.evaluate(() => window.popupLooksClosed())).toBe(true);
      await popup.click("#allow");
      await status(page, "authorized");
      expect(await page.textContent("#result")).toMatch(/^sk-or-v1-/);
      const log = await emulatorLog();
      expect(log.exchanges).toHaveLength(1);
      expect(log.exchanges[0]).toMatchObject({ status: 200, origin: servers.app });
      await expectPopupClosedClean(page, popup);
      await expectPageKept(page, path, "draft under COOP", loaded);
    });

    it("two tabs, each with its own popup: each gets its own key; neither takes the other's callback", async () => {
      // The second tab is opened from the first through a plain link (target=_blank, rel=noopener:
      // no opener, its own sessionStorage), not with the driver's "new tab": WebKit's MiniBrowser
      // keeps a WebDriver tab in the background (document.visibilityState "hidden"), and WebKit
      // gives a hidden page no popup even inside a trusted click (popup_blocked). The link's tab
      // is a window of its own there, visible like the first.
      await openPage(page, OPENROUTER_PAGE, "");
      const [other] = await Promise.all([page.waitForPopup(), page.click("#new-tab")]);
      const loadedA = await openPage(page, OPENROUTER_PAGE, "tab A");
      const loadedB = await openPage(other, OPENROUTER_PAGE, "tab B");
      const popupA = await connect(page, atEmulator);
      const popupB = await connect(other, atEmulator);
      // B finishes first; A is still waiting for its own popup.
      await popupB.click("#allow");
      await status(other, "authorized");
      await expectPopupClosedClean(other, popupB);
      expect(await page.getAttribute("#status", "data-status")).toBe("redirecting");
      expect(await popupA.isClosed()).toBe(false);
      await popupA.click("#allow");
      await status(page, "authorized");
      await expectPopupClosedClean(page, popupA, 2);

      const log = await emulatorLog();
      expect(log.exchanges).toHaveLength(2);
      const [keyA, keyB] = [await page.textContent("#result"), await other.textContent("#result")];
      expect(keyA).toMatch(/^sk-or-v1-/);
      expect(keyB).toMatch(/^sk-or-v1-/);
      expect(keyA).not.toBe(keyB);
      await expectPageKept(page, OPENROUTER_PAGE, "tab A", loadedA);
      await expectPageKept(other, OPENROUTER_PAGE, "tab B", loadedB);
    });
  });

  describe("popup sign-in against oidc-provider", () => {
    it("signs in through the server's login and consent pages; one token request from the opening page", async () => {
      const loaded = await openPage(page, OIDC_PAGE, "oidc draft");
      const popup = await connect(page, atInteraction);
      await completeOidcLogin(popup, { login: "alice" });
      await status(page, "authorized");
      await expectPopupClosedClean(page, popup);
      expect(oidcLog.tokenRequests).toHaveLength(1);
      expect(oidcLog.tokenRequests[0]).toMatchObject({ status: 200, params: { grant_type: "authorization_code" } });
      expect(oidcLog.authorizations[0]!.params["state"]).toMatch(/^pkce-popup\./);
      expect(await page.textContent("#result")).toMatch(/^.{12}….{4}$/);
      expect(await page.textContent("#error")).toBe("");
      await expectPageKept(page, OIDC_PAGE, "oidc draft", loaded);
    });

    it("Cancel at consent: authorization_error (access_denied), no token request", async () => {
      const loaded = await openPage(page, OIDC_PAGE, "oidc draft");
      const popup = await connect(page, atInteraction);
      await cancelOidcConsent(popup, { login: "alice" });
      await status(page, "failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
      expect(await page.textContent("#error")).toContain("access_denied");
      await expectPopupClosedClean(page, popup);
      expect(oidcLog.tokenRequests).toHaveLength(0);
      await expectPageKept(page, OIDC_PAGE, "oidc draft", loaded);
    });

    it("the user closes the popup at the login page: popup_closed", async () => {
      const loaded = await openPage(page, OIDC_PAGE, "oidc draft");
      const popup = await connect(page, atInteraction);
      await popup.close();
      await status(page, "failed");
      expect(await page.getAttribute("#error", "data-code")).toBe("popup_closed");
      expect(oidcLog.tokenRequests).toHaveLength(0);
      expect(await closedPopupUrls(page)).toEqual([]);
      await expectPageKept(page, OIDC_PAGE, "oidc draft", loaded);
    });
  });
});

// Not in Firefox: playwright-core's WebDriver BiDi Firefox gives the page transient user activation
// with every script it runs there (`script.callFunction` with `userActivation: true`), its own
// during page.goto included, so no page it drives is reliably outside a user gesture: a load-time
// popup() got its window. (Its popup blocker itself works: with `dom.disable_open_during_load` on,
// a window.open more than 5 s after the last such script returns null.)
forEachEngine(
  (engine) => {
    let page: EnginePage;
    beforeEach(async () => {
      servers.emulator.emulator.reset();
      page = await engine.newPage();
    });

    it("popup() outside a user gesture: popup_blocked, nothing stored, no window", async () => {
      const strict = await strictPage(engine, page);
      try {
        await strict.page.goto(`${servers.app}${OPENROUTER_PAGE}?autostart=1`);
        await strict.page.waitForSelector('#status[data-status="failed"]');
        expect(await strict.page.getAttribute("#error", "data-code")).toBe("popup_blocked");
        expect(await strict.page.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith("pkce-flow:")))).toEqual([]);
        // popup() called window.open once and the browser gave the page no window.
        expect(await strict.page.evaluate(() => window.opened)).toEqual([false]);
        if (strict.windows) expect(await strict.windows()).toBe(1);
        expect((await emulatorLog()).authRequests).toHaveLength(0);
      } finally {
        await strict.close();
      }
    });
  },
  { only: ["chromium", "webkit"] },
);

/** What the popup-blocker test needs of a page, in every engine. */
interface StrictPage {
  page: Pick<EnginePage, "goto" | "waitForSelector" | "getAttribute" | "evaluate">;
  /**
   * How many windows the browser has open now (Playwright's pages of the context). WebDriver lists
   * only the windows the harness was told of, so WebKit has no count; the page's own `window.open`
   * result (`null`: no window was created) and the emulator's log (no request) stand for it there.
   */
  windows?(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A page in a browser whose popup blocker is on. Playwright launches Chromium with
 * `--disable-popup-blocking`, the harness's too: Chromium gets a browser of its own here without
 * that flag. WebKit's MiniBrowser keeps WebKit's default (`javascript-can-open-windows-automatically`
 * off), so the harness page is one.
 */
async function strictPage(engine: EngineHandle, harnessPage: EnginePage): Promise<StrictPage> {
  if (engine.name === "webkit") {
    return { page: harnessPage, close: async () => {} };
  }
  const browser: Browser = await chromium.launch({ ...CHROMIUM, headless: true, ignoreDefaultArgs: ["--disable-popup-blocking"] });
  const context = await browser.newContext();
  const raw: Page = await context.newPage();
  return {
    page: {
      goto: async (url) => void (await raw.goto(url)),
      waitForSelector: async (selector) => void (await raw.waitForSelector(selector)),
      getAttribute: (selector, name) => raw.getAttribute(selector, name),
      evaluate: ((fn: () => unknown) => raw.evaluate(fn)) as EnginePage["evaluate"],
    },
    windows: async () => context.pages().length,
    close: () => browser.close(),
  };
}
