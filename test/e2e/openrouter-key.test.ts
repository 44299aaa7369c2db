// The demo's "Connected" panel (getOpenRouterKey, openRouterKeyLinks), Disconnect and the 401 of a
// revoked key, and the headless "paste a code" flow: real Chromium, Firefox and WebKit
// (test/support/engine.ts) against the real emulator on another origin.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, inOneEngine, type EnginePage } from "../support/engine.ts";

let servers: DemoServers;

beforeAll(async () => {
  servers = await startDemo();
});
afterAll(async () => {
  await servers?.close();
});

const emulator = () => servers.emulator.emulator;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const status = (p: EnginePage, value: string) => p.waitForSelector(`#status[data-status="${value}"]`);
const keyState = (p: EnginePage, value: string) => p.waitForSelector(`#key-status[data-state="${value}"]`);
const text = async (p: EnginePage, selector: string) => (await p.textContent(selector))?.trim();
const inputValue = (p: EnginePage, selector: string) => p.evaluate((s) => document.querySelector<HTMLInputElement>(s)!.value, selector);

/** What the emulator itself answers for `key` at GET /api/v1/key. */
async function keyData(key: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${servers.emulator.url}/api/v1/key`, { headers: { Authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Record<string, unknown> }).data;
}

forEachEngine((engine) => {
  let page: EnginePage;
  beforeEach(async () => {
    servers.emulator.emulator.reset();
    page = await engine.newPage();
  });

  /** Opens the demo and waits until its ES module has rendered (before that, #connect is a plain submit button). */
  async function openDemo(p: EnginePage = page): Promise<void> {
    await p.goto(`${servers.app}/`);
    await p.waitForSelector("#error[data-code]", { state: "attached" });
  }

  /** Opens the link `selector` of the app page in a new tab of the same browser context, as its target="_blank" does. */
  async function openInNewTab(selector: string): Promise<EnginePage> {
    const href = await page.getAttribute(selector, "href");
    expect(href).toBeTruthy();
    const tab = await page.context.newPage();
    await tab.goto(href!);
    return tab;
  }

  /** On the demo, asks for a headless link and opens it in a new tab: the emulator's consent page. */
  async function openHeadlessLink(): Promise<EnginePage> {
    await openDemo();
    await page.click("#paste-panel summary");
    await page.click("#headless-start");
    await page.waitForSelector("#headless-link:not([hidden])");
    return openInNewTab("#headless-link");
  }

  /** Connects through the redirect with the given form settings; returns the minted key. */
  async function connect(p: EnginePage, fill?: (p: EnginePage) => Promise<void>): Promise<string> {
    await openDemo(p);
    await fill?.(p);
    await Promise.all([p.waitForURL(`${servers.emulator.url}/auth?**`), p.click("#connect")]);
    await Promise.all([p.waitForURL(`${servers.app}/?**`), p.click("#allow")]);
    await status(p, "authorized");
    await p.waitForSelector('#key-info[aria-busy="false"]');
    return emulator().log.keys.at(-1)!.key;
  }

  /** Ticks "Remember" (a real click; its change handler keeps the key in localStorage). */
  async function remember(p: EnginePage = page): Promise<void> {
    await p.click("#remember");
    await p.waitForFunction(() => document.querySelector<HTMLInputElement>("#remember")!.checked);
  }

  inOneEngine(engine, "the key's figures and pages are the emulator's answers, shown by page code the unit suite runs everywhere", () => {
    describe("the Connected panel", () => {
      it("shows the emulator's figures for the settings chosen at /auth, and links to the key's pages", async () => {
        const key = await connect(page, async (p) => {
          await p.fill("#key-label", "Panel key");
          await p.fill("#limit", "7.5");
          await p.selectOption("#usage-limit-type", "monthly");
          await p.fill("#expires-at", "2099-01-02T03:04");
        });
        const data = await keyData(key);
        expect(data).toMatchObject({ label: "Panel key", limit: 7.5, limit_remaining: 7.5, limit_reset: "monthly", usage: 0 });
        expect(await text(page, "#key")).toBe(`${key.slice(0, 12)}…${key.slice(-4)}`);
        expect(await text(page, "#info-label")).toBe("Panel key");
        expect(await text(page, "#info-limit")).toBe("$7.5");
        expect(await text(page, "#info-remaining")).toBe("$7.5");
        expect(await text(page, "#info-reset")).toBe("monthly");
        expect(await text(page, "#info-usage")).toBe("$0");
        expect(await text(page, "#info-expires")).toBe(data["expires_at"]);
        expect(data["expires_at"]).toMatch(/^2099-01-0[12]T\d\d:04:00Z$/);

        const hash = sha256(key);
        expect(await page.getAttribute("#manage-key", "href")).toBe(`${servers.emulator.url}/keys/${hash}`);
        expect(await page.getAttribute("#activity", "href")).toBe(`${servers.emulator.url}/logs?api_key_hash=${hash}`);
        // The browser asked, from the app's origin, with the key as Bearer (the log keeps its hash only).
        expect(emulator().log.keyRequests.filter((r) => r.origin !== null)).toEqual([expect.objectContaining({ origin: servers.app, status: 200, keyHash: hash })]);

        expect(await page.getAttribute("#manage-key", "rel")).toBe("noopener noreferrer");
        const settings = await openInNewTab("#manage-key");
        expect(await text(settings, "#label")).toBe("Panel key");
        expect(await text(settings, "#hash")).toBe(hash);
      });

      it("shows what was spent after a 'Check the key again'", async () => {
        const key = await connect(page, (p) => p.fill("#limit", "5"));
        const spent = await fetch(`${servers.emulator.url}/__emulator/spend`, { method: "POST", body: JSON.stringify({ key, amount: 1.25 }) });
        expect(spent.status).toBe(200);
        await page.click("#check-key");
        await page.waitForFunction(() => document.getElementById("info-usage")?.textContent === "$1.25");
        expect(await text(page, "#info-remaining")).toBe("$3.75");
      });
    });
  });

  describe("Disconnect and the 401 of a revoked key", () => {
    inOneEngine(engine, "what the emulator answers for the key decides these, not the browser", () => {
      it("Disconnect forgets the key on the page (the key itself still works until revoked)", async () => {
        const key = await connect(page);
        await page.click("#disconnect");
        await keyState(page, "disconnected");
        expect(await page.isHidden("#result")).toBe(true);
        expect(await text(page, "#key")).toBe("");
        expect(await text(page, "#info-label")).toBe("");
        expect(await page.evaluate(() => localStorage.length)).toBe(0);
        await keyData(key);
      });

      it("a key revoked on its settings page answers 401, and the page disconnects", async () => {
        const key = await connect(page);
        const settings = await openInNewTab("#manage-key");
        await settings.waitForSelector("#revoke");
        await Promise.all([settings.waitForSelector("#revoked"), settings.click("#revoke")]);

        await page.click("#check-key");
        await keyState(page, "revoked");
        expect(await text(page, "#key-status")).toContain("401");
        expect(await page.isHidden("#result")).toBe(true);
        expect(emulator().log.keyRequests.map((r) => r.status)).toEqual([200, 401]);
        expect(emulator().log.keyRequests.every((r) => r.keyHash === sha256(key))).toBe(true);
      });

      it("a remembered key that was revoked meanwhile disconnects on the next visit, and leaves storage", async () => {
        const key = await connect(page);
        await remember();
        expect(await page.evaluate(() => Object.keys(localStorage))).toEqual(["pkce-demo:openrouter-key"]);
        await page.reload();
        await page.waitForSelector('#key-info[aria-busy="false"]');
        expect(await page.isVisible("#result")).toBe(true);

        const revoked = await fetch(`${servers.emulator.url}/__emulator/revoke`, { method: "POST", body: JSON.stringify({ key }) });
        expect(revoked.status).toBe(200);
        await page.reload();
        await keyState(page, "revoked");
        expect(await page.isHidden("#result")).toBe(true);
        expect(await page.evaluate(() => localStorage.length)).toBe(0);
      });
    });

    it("Disconnect in one tab disconnects the other tabs that remember the key (storage event)", async () => {
      await connect(page);
      await remember();
      const other = await page.context.newPage();
      await openDemo(other);
      await other.waitForSelector('#key-info[aria-busy="false"]');
      await page.click("#disconnect");
      await keyState(other, "disconnected");
      expect(await other.isHidden("#result")).toBe(true);
    });
  });

  describe("Can't redirect? Paste a code (headless)", () => {
    it("opens OpenRouter without a callback, reads the code off its page, pastes it, and the key arrives after one exchange", async () => {
      await openDemo();
      await page.fill("#key-label", "Pasted key");
      await page.click("#paste-panel summary");
      await page.click("#headless-start");
      await page.waitForSelector("#headless-link:not([hidden])");
      const href = new URL((await page.getAttribute("#headless-link", "href"))!);
      expect(href.origin + href.pathname).toBe(`${servers.emulator.url}/auth`);
      expect(href.searchParams.has("callback_url")).toBe(false);
      expect(href.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
      expect(href.searchParams.get("code_challenge_method")).toBe("S256");

      expect(await page.getAttribute("#headless-link", "target")).toBe("_blank");
      const tab = await openInNewTab("#headless-link");
      await tab.waitForSelector("#headless");
      await Promise.all([tab.waitForSelector("#code"), tab.click("#allow")]);
      const code = (await text(tab, "#code"))!;
      expect(code).toMatch(/^[\w-]{43}$/);

      // A paste too long to be a code is refused and keeps the sign-in pending for a corrected paste.
      await page.fill("#paste-code", "x".repeat(8193));
      await page.click("#paste-submit");
      await page.waitForSelector('#error[data-code="invalid_argument"]');
      expect(emulator().log.exchanges).toHaveLength(0);

      // What a user pastes often carries spaces around it.
      await page.fill("#paste-code", `  ${code}  `);
      await page.click("#paste-submit");
      await status(page, "authorized");
      await page.waitForSelector('#key-info[aria-busy="false"]');

      const [minted] = emulator().log.keys;
      expect(minted).toMatchObject({ keyLabel: "Pasted key", source: "auth" });
      expect(await text(page, "#key")).toBe(`${minted!.key.slice(0, 12)}…${minted!.key.slice(-4)}`);
      expect(await text(page, "#info-label")).toBe("Pasted key");
      expect(emulator().log.exchanges).toEqual([expect.objectContaining({ status: 200, origin: servers.app, authorization: false })]);
      expect((emulator().log.exchanges[0]!.body as { code: string }).code).toBe(code);
      expect(await page.sessionStorageKeys("pkce-flow:")).toEqual([]);
      expect(await inputValue(page, "#paste-code")).toBe("");
    });

    inOneEngine(engine, "a sign-in pending in sessionStorage is the library's logic; the paste flow itself runs in every engine above", () => {
      it("a second paste of the same code sends nothing and says no sign-in is pending", async () => {
        const tab = await openHeadlessLink();
        await Promise.all([tab.waitForSelector("#code"), tab.click("#allow")]);
        const code = (await text(tab, "#code"))!;
        await page.fill("#paste-code", code);
        await page.click("#paste-submit");
        await status(page, "authorized");
        await page.fill("#paste-code", code);
        await page.click("#paste-submit");
        await page.waitForSelector('#error[data-code="no_transaction"]');
        expect(emulator().log.exchanges).toHaveLength(1);
      });

      it("the code still works after the app page was reloaded in between (the sign-in waits in sessionStorage)", async () => {
        const tab = await openHeadlessLink();
        await page.reload();
        await page.waitForSelector("#error[data-code]", { state: "attached" });
        await Promise.all([tab.waitForSelector("#code"), tab.click("#allow")]);
        await page.click("#paste-panel summary");
        await page.fill("#paste-code", (await text(tab, "#code"))!);
        await page.click("#paste-submit");
        await status(page, "authorized");
        await page.waitForSelector('#key-info[aria-busy="false"]');
        expect(emulator().log.exchanges).toEqual([expect.objectContaining({ status: 200 })]);
      });
    });
  });
});
