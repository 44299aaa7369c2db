// What a browser decides: following returnTo after sign-in, Back from the server's page (the
// back/forward cache), and a callback loaded again after the sign-in ended (a reload of an
// uncleaned URL, Back to the server and Allow again, the callback in another tab). Driven through
// test/e2e/pages/navigation.html, which behaves like the README's apps, in every engine.
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { decideConsent, startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, type EnginePage } from "../support/engine.ts";

const PATH = "/test/e2e/pages/navigation.html";
let servers: DemoServers;

beforeAll(async () => {
  servers = await startDemo();
});
afterAll(async () => {
  await servers?.close();
});

const log = () => servers.emulator.emulator.log;

/** The authorization URL the page sent the browser to, rebuilt from the emulator's own log. */
function authorizationUrl(index = 0): string {
  return `${servers.emulator.url}/auth?${new URLSearchParams(log().authRequests[index]!.params)}`;
}

/** The callback the emulator sent the browser to for the first exchange (callback_url, then code). */
function firstCallback(): string {
  const callback = new URL(log().authRequests[0]!.params["callback_url"]!);
  callback.searchParams.append("code", (log().exchanges[0]!.body as { code: string }).code);
  return callback.href;
}

forEachEngine((engine) => {
  let page: EnginePage;
  beforeEach(async () => {
    servers.emulator.emulator.reset();
    page = await engine.newPage();
  });

  const status = (value: string, on: EnginePage = page) => on.waitForSelector(`#status[data-status="${value}"]`, { state: "attached" });
  const errorCode = (on: EnginePage = page) => on.getAttribute("#error", "data-code");

  async function open(on: EnginePage = page) {
    await on.goto(`${servers.app}${PATH}`);
    await status("idle", on);
  }

  async function connect(returnTo = "") {
    await page.fill("#return-to", returnTo);
    await Promise.all([page.waitForURL(`${servers.emulator.url}/auth?**`), page.click("#connect")]);
  }

  async function allow() {
    await Promise.all([page.waitForURL((url) => url.origin === servers.app && url.pathname === PATH), page.click("#allow")]);
  }

  it("follows returnTo after sign-in, staying on the app's origin with its query and fragment", async () => {
    await open();
    await connect("/test/e2e/pages/navigation.html?after=1#done");
    await allow();
    await page.waitForURL((url) => url.searchParams.get("after") === "1");
    await status("idle");
    const url = new URL(await page.url());
    expect(url.origin).toBe(servers.app);
    expect(url.pathname + url.search + url.hash).toBe(`${PATH}?after=1#done`);
    expect(log().exchanges).toHaveLength(1);
    expect(await page.sessionStorageKeys("pkce-flow:")).toEqual([]);
  });

  it("refuses returnTo values that would leave the origin once followed: failed, nothing stored, never at the server", async () => {
    await open();
    const hostile = ["/x/..//evil.example/", "/%2e//evil.example/", `${servers.app}//evil.example/`, "/\\evil.example/", "//evil.example/", "https://evil.example/"];
    for (const returnTo of hostile) {
      await page.fill("#return-to", returnTo);
      await page.click("#connect");
      await status("failed");
      expect(await errorCode(), returnTo).toBe("invalid_argument");
      expect(new URL(await page.url()).origin).toBe(servers.app);
    }
    expect(await page.sessionStorageKeys("pkce-flow:")).toEqual([]);
    expect(log().authRequests).toHaveLength(0);
  });

  it("works again after Back from the server's page, and its sign-in still completes", async () => {
    await open();
    await connect();
    await page.goBack();
    // A back/forward cache restore turns `redirecting` back to `idle`; a fresh load starts idle.
    await status("idle");
    expect(new URL(await page.url()).pathname).toBe(PATH);
    const pending = await page.sessionStorageKeys("pkce-flow:");
    expect(pending).toHaveLength(1);
    await connect();
    await allow();
    await status("authorized");
    expect(await page.textContent("#result")).toMatch(/^key ending .{4}$/);
    expect(log().exchanges).toHaveLength(1);
    expect(log().exchanges[0]!.status).toBe(200);
  });

  it("answers a reload of the used callback URL with no_transaction: cleaned, nothing sent", async () => {
    await open();
    await connect();
    await allow();
    await status("authorized");
    const callback = firstCallback();
    await page.goto(callback);
    await status("failed");
    expect(await errorCode()).toBe("no_transaction");
    const url = new URL(await page.url());
    expect([url.searchParams.has("code"), url.searchParams.has("state")]).toEqual([false, false]);
    expect(log().exchanges).toHaveLength(1);
    expect(await page.sessionStorageKeys("pkce-flow:")).toEqual([]);
  });

  it("answers Back to the server and Allow again with no_transaction: the new code is never sent", async () => {
    await open();
    await connect();
    await allow();
    await status("authorized");
    // The authorization URL again (what Back reloads on the server's side), then Allow.
    await Promise.all([page.waitForURL(`${servers.emulator.url}/auth?**`), page.goto(authorizationUrl())]);
    await allow();
    await status("failed");
    expect(await errorCode()).toBe("no_transaction");
    expect(log().authRequests).toHaveLength(2);
    expect(log().exchanges).toHaveLength(1);
    const url = new URL(await page.url());
    expect([url.searchParams.has("code"), url.searchParams.has("state")]).toEqual([false, false]);
  });

  it("answers a callback opened in another tab with no_transaction there, while the tab that started it finishes", async () => {
    await open();
    await connect();
    // Decide on the consent page without following, so the callback can be opened elsewhere.
    const callback = await decideConsent(page, servers.emulator.url);
    const other = await page.context.newPage();
    await other.goto(callback);
    await status("failed", other);
    expect(await errorCode(other)).toBe("no_transaction");
    expect(new URL(await other.url()).searchParams.has("code")).toBe(false);
    expect(log().exchanges).toHaveLength(0);
    // The tab that holds the transaction still finishes with the same callback.
    await page.bringToFront();
    await page.goto(callback);
    await status("authorized");
    expect(log().exchanges).toHaveLength(1);
  });
});
