/**
 * Popup sign-in (flow.popup()) in real Chromium, against the OpenRouter emulator and oidc-provider
 * on loopback: the pages under test/e2e/popup/ open the popup from a click, the popup's own
 * handleCallback() hands the callback back and closes the window, and the opening page, which was
 * never reloaded, exchanges the code once.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OidcServer } from "../../demo/oidc/server.ts";
import { CHROMIUM } from "../../vite.config.ts";
import { launchChromium } from "../support/browser.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { cancelOidcConsent, completeOidcLogin } from "../support/oidc-login.ts";

const OPENROUTER_PAGE = "/test/e2e/popup/index.html";
const OIDC_PAGE = "/test/e2e/popup/index.html?provider=oidc";

let servers: DemoServers & { oidc: OidcServer };
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The emulator again, on its own origin, sending `Cross-Origin-Opener-Policy: same-origin` with its consent page. */
let coop: { url: string; server: Server };
/** Token requests oidc-provider answered (granted or refused), counted on the server. */
let tokenRequests: string[];

/** Serves the running emulator on a second loopback origin, adding COOP to the consent page. */
async function startCoopEmulator(): Promise<{ url: string; server: Server }> {
  const { emulator } = servers.emulator;
  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] === `${emulator.basePath}/auth`) res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    emulator.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${emulator.basePath}`, server };
}

beforeAll(async () => {
  [servers, browser] = await Promise.all([startDemo({ oidc: true, oidcCallbackPaths: [OIDC_PAGE] }), launchChromium()]);
  coop = await startCoopEmulator();
  const provider = servers.oidc.provider as { on(event: string, listener: () => void): void };
  provider.on("grant.success", () => tokenRequests.push("granted"));
  provider.on("grant.error", () => tokenRequests.push("refused"));
});
afterAll(async () => {
  await browser?.close();
  coop?.server.closeAllConnections();
  await new Promise((resolve) => coop?.server.close(resolve));
  await servers?.close();
});
beforeEach(async (test) => {
  servers.emulator.emulator.reset();
  context = await browser.newContext();
  page = await context.newPage();
  tokenRequests = [];
  test.onTestFinished(() => context.close());
});

/** The emulator's own log, over HTTP. */
async function emulatorLog(): Promise<{ exchanges: Array<{ status: number; origin: string | null }>; authRequests: Array<{ params: Record<string, string> }> }> {
  const response = await fetch(`${servers.emulator.url}/__emulator/log`);
  return (await response.json()) as never;
}

const status = (p: Page, value: string) => p.waitForSelector(`#status[data-status="${value}"]`);
const pkceKeys = (p: Page) => p.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith("pkce-flow:")));

/** Opens the page and types a draft into it; gives the page's load id (new on every load). */
async function openPage(p: Page, path: string, draft: string): Promise<string> {
  await p.goto(`${servers.app}${path}`);
  await p.fill("#note", draft);
  return (await p.textContent("#loaded"))!;
}

/** Clicks "Connect in a popup" and gives the popup once it shows the server's page. */
async function connect(p: Page, atServer: (url: URL) => boolean): Promise<Page> {
  const [popup] = await Promise.all([p.waitForEvent("popup"), p.click("#connect")]);
  await popup.waitForURL(atServer);
  await status(p, "redirecting");
  return popup;
}

const atEmulator = (base: string) => (url: URL) => url.href.startsWith(`${base}/auth?`);
const atInteraction = (url: URL) => url.href.startsWith(`${servers.oidc.issuer}/interaction/`);

/** The opening page kept what the user typed and was never reloaded. */
async function expectPageKept(p: Page, path: string, draft: string, loaded: string): Promise<void> {
  expect(await p.evaluate(() => (document.getElementById("note") as HTMLInputElement).value)).toBe(draft);
  expect(await p.textContent("#loaded")).toBe(loaded);
  expect(p.url()).toBe(`${servers.app}${path}`);
  expect(await pkceKeys(p)).toEqual([]);
}

/** The popup closed itself after its last page, whose address bar had been cleaned. */
async function expectPopupClosedClean(popup: Page): Promise<void> {
  if (!popup.isClosed()) await popup.waitForEvent("close");
  const last = new URL(popup.url());
  expect(last.origin).toBe(servers.app);
  for (const name of ["code", "state", "iss", "error"]) expect(last.searchParams.has(name)).toBe(false);
}

describe("popup sign-in against the OpenRouter emulator", () => {
  it("Allow: the opening page gets the key with one exchange and keeps its state; the popup closes itself", async () => {
    const loaded = await openPage(page, OPENROUTER_PAGE, "half-written chat");
    const popup = await connect(page, atEmulator(servers.emulator.url));
    await popup.click("#allow");
    await status(page, "authorized");
    await expectPopupClosedClean(popup);

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
    const popup = await connect(page, atEmulator(servers.emulator.url));
    await popup.click("#deny");
    await status(page, "failed");
    expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
    expect(await page.textContent("#error")).toContain("access_denied");
    await expectPopupClosedClean(popup);
    expect((await emulatorLog()).exchanges).toHaveLength(0);
    await expectPageKept(page, OPENROUTER_PAGE, "draft", loaded);
  });

  it("the user closes the popup: popup_closed within about a second, nothing left behind", async () => {
    const loaded = await openPage(page, OPENROUTER_PAGE, "draft");
    const popup = await connect(page, atEmulator(servers.emulator.url));
    const closedAt = Date.now();
    await popup.close();
    await status(page, "failed");
    // The poll sees the window closed within 250 ms and waits 500 ms more for a relay in flight.
    expect(Date.now() - closedAt).toBeLessThan(2500);
    expect(await page.getAttribute("#error", "data-code")).toBe("popup_closed");
    expect((await emulatorLog()).exchanges).toHaveLength(0);
    await expectPageKept(page, OPENROUTER_PAGE, "draft", loaded);
  });

  it("a consent page with Cross-Origin-Opener-Policy cuts the opener: with detectClose: false the channel still hands the callback back", async () => {
    const path = `${OPENROUTER_PAGE}?emulator=${encodeURIComponent(coop.url)}&detectClose=0`;
    const loaded = await openPage(page, path, "draft under COOP");
    const popup = await connect(page, atEmulator(coop.url));
    // The popup is open at the consent page, yet the opener's handle says closed: COOP cut it.
    expect(popup.isClosed()).toBe(false);
    expect(await page.evaluate(() => window.popupLooksClosed())).toBe(true);
    await popup.click("#allow");
    await status(page, "authorized");
    expect(await page.textContent("#result")).toMatch(/^sk-or-v1-/);
    const log = await emulatorLog();
    expect(log.exchanges).toHaveLength(1);
    expect(log.exchanges[0]).toMatchObject({ status: 200, origin: servers.app });
    await expectPopupClosedClean(popup);
    await expectPageKept(page, path, "draft under COOP", loaded);
  });

  it("two tabs, each with its own popup: each gets its own key; neither takes the other's callback", async () => {
    const other = await context.newPage();
    const loadedA = await openPage(page, OPENROUTER_PAGE, "tab A");
    const loadedB = await openPage(other, OPENROUTER_PAGE, "tab B");
    const popupA = await connect(page, atEmulator(servers.emulator.url));
    const popupB = await connect(other, atEmulator(servers.emulator.url));
    // B finishes first; A is still waiting for its own popup.
    await popupB.click("#allow");
    await status(other, "authorized");
    await expectPopupClosedClean(popupB);
    expect(await page.getAttribute("#status", "data-status")).toBe("redirecting");
    await popupA.click("#allow");
    await status(page, "authorized");
    await expectPopupClosedClean(popupA);

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

describe("the browser's popup blocker", () => {
  it("popup() outside a user gesture: popup_blocked, nothing stored, no window", async () => {
    // Playwright turns Chromium's popup blocker off by default; this browser has it on.
    const strict = await chromium.launch({ ...CHROMIUM, headless: true, ignoreDefaultArgs: ["--disable-popup-blocking"] });
    try {
      const strictPage = await (await strict.newContext()).newPage();
      const popups: Page[] = [];
      strictPage.on("popup", (p) => popups.push(p));
      await strictPage.goto(`${servers.app}${OPENROUTER_PAGE}?autostart=1`);
      await status(strictPage, "failed");
      expect(await strictPage.getAttribute("#error", "data-code")).toBe("popup_blocked");
      expect(await pkceKeys(strictPage)).toEqual([]);
      expect(popups).toEqual([]);
      expect((await emulatorLog()).authRequests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});

describe("popup sign-in against oidc-provider", () => {
  it("signs in through the server's login and consent pages; one token request from the opening page", async () => {
    const loaded = await openPage(page, OIDC_PAGE, "oidc draft");
    const popup = await connect(page, atInteraction);
    await completeOidcLogin(popup, { login: "alice" });
    await status(page, "authorized");
    await expectPopupClosedClean(popup);
    expect(tokenRequests).toHaveLength(1);
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
    await expectPopupClosedClean(popup);
    expect(tokenRequests).toHaveLength(0);
    await expectPageKept(page, OIDC_PAGE, "oidc draft", loaded);
  });

  it("the user closes the popup at the login page: popup_closed", async () => {
    const loaded = await openPage(page, OIDC_PAGE, "oidc draft");
    const popup = await connect(page, atInteraction);
    await popup.close();
    await status(page, "failed");
    expect(await page.getAttribute("#error", "data-code")).toBe("popup_closed");
    expect(tokenRequests).toHaveLength(0);
    await expectPageKept(page, OIDC_PAGE, "oidc draft", loaded);
  });
});
