// Hostile environments in real browsers: a strict Content-Security-Policy with Trusted Types (in
// Chromium, Firefox and WebKit), an insecure context, disabled / full / forgetful storage and a
// sandboxed iframe (in the Playwright engines, see below). The pages live in ./hostile/ and use the
// BUILT bundles (run `npm run build` first), served by a small node:http server here; the
// OpenRouter emulator runs on its own loopback port, so CORS and CSP are real.
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { BrowserContext, ConsoleMessage, Frame, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type RunningEmulator } from "../../demo/emulator/server.ts";
import { forEachEngine, playwrightPage, type EngineHandle, type EnginePage } from "../support/engine.ts";

const PAGES = fileURLToPath(new URL("./hostile/", import.meta.url));
const DIST = fileURLToPath(new URL("../../dist/", import.meta.url));
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  map: "application/json; charset=utf-8",
};

let emulator: RunningEmulator;
let server: Server;
let app: string;

/** The policy of the CSP pages. `blocked` leaves the emulator out of connect-src (a control). */
function policy(kind: "strict" | "blocked"): string {
  const connect = kind === "strict" ? `'self' ${new URL(emulator.url).origin}` : "'self'";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** How each prefix serves the files of ./hostile/: the CSP of its csp-* pages and its Referrer-Policy. */
const PREFIXES: Record<string, { csp: "strict" | "blocked"; referrer: string }> = {
  hostile: { csp: "strict", referrer: "no-referrer" },
  // connect-src without the emulator: a control that proves violations are seen.
  "hostile-blocked": { csp: "blocked", referrer: "no-referrer" },
  // A careless page that would send its full URL as Referer everywhere.
  "hostile-leaky": { csp: "strict", referrer: "unsafe-url" },
};

/**
 * What the app server answers for `path`: files of ./hostile/ under each of PREFIXES, and the
 * two bundles under /dist/. Also used to fulfil requests of http://app.test.
 */
function serve(path: string): { status: number; headers: Record<string, string>; body: string } {
  const notFound = { status: 404, headers: { "Content-Type": "text/plain" }, body: "not found" };
  // Browsers ask for it on their own; a 404 would be a console error unrelated to the library.
  if (path === "/favicon.ico") return { status: 204, headers: {}, body: "" };
  const hostile = /^\/(hostile|hostile-blocked|hostile-leaky)\/([\w-]+\.(html|js|mjs))$/.exec(path);
  const dist = /^\/dist\/(pkce-flow\.js|pkce-flow\.iife\.js)(\.map)?$/.exec(path);
  let body: string;
  try {
    if (hostile) body = readFileSync(`${PAGES}${hostile[2]}`, "utf8");
    else if (dist) body = readFileSync(`${DIST}${dist[1]}${dist[2] ?? ""}`, "utf8");
    else return notFound;
  } catch {
    return notFound;
  }
  const extension = path.slice(path.lastIndexOf(".") + 1);
  const headers: Record<string, string> = {
    "Content-Type": TYPES[extension] ?? "application/octet-stream",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
  if (extension === "html") {
    const prefix = PREFIXES[hostile![1]!]!;
    body = body.replaceAll("%EMULATOR%", emulator.url);
    headers["Referrer-Policy"] = prefix.referrer;
    if (hostile![2]!.startsWith("csp-")) headers["Content-Security-Policy"] = policy(prefix.csp);
  }
  return { status: 200, headers, body };
}

beforeAll(async () => {
  for (const file of ["pkce-flow.js", "pkce-flow.iife.js"]) {
    if (!existsSync(`${DIST}${file}`)) throw new Error(`dist/${file} is missing: run \`npm run build\` first`);
  }
  emulator = await startEmulator();
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const { status, headers, body } = serve(new URL(req.url ?? "/", "http://localhost").pathname);
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  app = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await emulator?.close();
});

/**
 * One test's page, and what the Playwright engines can also see of it: every request to the
 * emulator's origin and every console error or warning (WebDriver classic sees neither; the
 * tests that need them say so).
 */
interface Watched {
  page: EnginePage;
  /** Every request the browser made to the emulator's origin during the test (Playwright engines). */
  emulatorRequests: string[];
  /** Console messages of type error or warning and page errors, from any page of the test (Playwright engines). */
  consoleProblems: string[];
  /** The Playwright context and page, or null in WebKit. */
  playwright: { context: BrowserContext; page: Page } | null;
}

async function watch(engine: EngineHandle): Promise<Watched> {
  emulator.emulator.reset();
  const page = await engine.newPage();
  const watched: Watched = { page, emulatorRequests: [], consoleProblems: [], playwright: null };
  if (engine.name === "webkit") return watched;
  const raw = playwrightPage(page);
  const context = raw.context();
  watched.playwright = { context, page: raw };
  context.on("request", (request) => {
    if (request.url().startsWith(new URL(emulator.url).origin)) watched.emulatorRequests.push(request.url());
  });
  raw.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error" || message.type() === "warning") watched.consoleProblems.push(`${message.location().url}: ${message.text()}`);
  });
  raw.on("pageerror", (error) => watched.consoleProblems.push(`pageerror: ${error.message}`));
  return watched;
}

interface StartOutcome {
  error: string | null;
  name?: string;
  navigated: string[];
  hrefUnchanged?: boolean;
  pkceKeys?: string[] | null;
}

/** Runs `hostile.start()` in the page (or frame) and returns what happened. */
function startIn(target: EnginePage | Frame): Promise<StartOutcome> {
  const start = () => (window as unknown as { hostile: { start(): Promise<StartOutcome> } }).hostile.start();
  return "context" in target && "engine" in target ? target.evaluate(start) : (target as Frame).evaluate(start);
}

/** Every check that proves a refused start left the page: no navigation, no request, no transaction. */
async function expectStayed(watched: Watched, outcome: StartOutcome, code: string, url: string, urlNow: string): Promise<void> {
  expect(outcome.error).toBe(code);
  expect(outcome.name).toBe("PkceError");
  expect(outcome.navigated).toEqual([]);
  expect(outcome.hrefUnchanged).toBe(true);
  expect(urlNow).toBe(url);
  expect(watched.emulatorRequests).toEqual([]);
  expect(emulator.emulator.log.authRequests).toEqual([]);
}


/** The current test's page and what is watched of it (set by the engine's beforeEach). */
let current: Watched;

forEachEngine((engine) => {
  let watched: Watched;
  let page: EnginePage;
  beforeEach(async () => {
    current = watched = await watch(engine);
    page = watched.page;
  });
  const status = (value: string) => page.waitForSelector(`#status[data-status="${value}"]`);

  describe("a page under a strict Content-Security-Policy with Trusted Types", () => {
    it.each([
      ["the script-tag build", "csp-iife.html"],
      ["the ES module build", "csp-esm.html"],
    ])("completes the OpenRouter flow with %s and reports no CSP violation", async (_what, file) => {
      const url = `${app}/hostile/${file}`;
      await page.goto(url);
      await status("idle");
      await Promise.all([page.waitForURL(`${emulator.url}/auth?**`), page.click("#connect")]);
      await Promise.all([page.waitForURL(`${url}?**`), page.click("#allow")]);
      await status("authorized");

      const [minted] = emulator.emulator.log.keys;
      expect(minted).toBeDefined();
      expect(await page.textContent("#key")).toBe(minted!.key);
      expect(emulator.emulator.log.exchanges).toHaveLength(1);
      expect(emulator.emulator.log.exchanges[0]).toMatchObject({ status: 200, origin: app });
      expect(emulator.emulator.log.authRequests[0]!.params["code_challenge_method"]).toBe("S256");
      // The address bar is clean and the transaction is gone.
      expect(new URL(await page.url()).search).toBe("");
      expect(await page.evaluate(() => (window as unknown as { hostile: { pkceKeys(): string[] } }).hostile.pkceKeys())).toEqual([]);
      // No violation and no uncaught error on the callback page (the page's own record, in every
      // engine), nor anywhere else in the test (the console: Playwright engines only, WebDriver
      // classic has no console).
      expect(await page.getAttribute("html", "data-violations")).toBe("[]");
      expect(await page.getAttribute("html", "data-errors")).toBe("[]");
      expect(watched.consoleProblems).toEqual([]);
    });

    it("control: the same page whose connect-src leaves out the emulator reports the violation and fails with network_error", async () => {
      // Proves the listener and the console check above can see a violation at all.
      const url = `${app}/hostile-blocked/csp-iife.html`;
      await page.goto(url);
      await status("idle");
      await Promise.all([page.waitForURL(`${emulator.url}/auth?**`), page.click("#connect")]);
      await Promise.all([page.waitForURL(`${url}?**`), page.click("#allow")]);
      await status("failed");
      expect(await page.getAttribute("#status", "data-code")).toBe("network_error");
      const violations = JSON.parse((await page.getAttribute("html", "data-violations")) ?? "[]") as Array<{ directive: string }>;
      expect(violations.map((v) => v.directive)).toEqual(["connect-src"]);
      if (engine.name !== "webkit") expect(watched.consoleProblems.some((line) => line.includes("connect-src"))).toBe(true);
      expect(emulator.emulator.log.exchanges).toEqual([]);
    });
  });

  // What follows needs what only the Playwright engines give: request headers, routes (a page on
  // the genuinely insecure origin http://app.test, since the tests talk to loopback only, and every
  // loopback origin is a secure context), scripts that run before the page's own (to take
  // crypto.subtle or storage away) and frame handles. WebDriver classic has none of these, so
  // these cases are declared for Chromium and Firefox only, not for WebKit.
  if (engine.name !== "webkit") playwrightOnly(engine);
});

/** The cases for the Playwright engines only, inside that engine's `forEachEngine` describe. */
function playwrightOnly(engine: EngineHandle): void {
  let watched: Watched;
  let page: EnginePage;
  let raw: Page;
  let context: BrowserContext;
  beforeEach(() => {
    // The engine's own beforeEach (above) has opened the page already.
    watched = current;
    page = watched.page;
    if (!watched.playwright) throw new Error(`${engine.name} is not a Playwright engine`);
    ({ page: raw, context } = watched.playwright);
  });
  const status = (value: string) => page.waitForSelector(`#status[data-status="${value}"]`);

  describe("a page whose own Referrer-Policy would leak its URL", () => {
    it("sends the token request without a Referer even under unsafe-url", async () => {
      const url = `${app}/hostile-leaky/csp-iife.html`;
      const sent: Array<{ url: string; method: string; referer: string | undefined }> = [];
      context.on("request", (request) => {
        if (!request.url().startsWith(emulator.url)) return;
        void request.allHeaders().then((headers) => sent.push({ url: request.url(), method: request.method(), referer: headers["referer"] }));
      });
      await page.goto(url);
      await status("idle");
      await Promise.all([page.waitForURL(`${emulator.url}/auth?**`), page.click("#connect")]);
      await Promise.all([page.waitForURL(`${url}?**`), page.click("#allow")]);
      await status("authorized");
      await expect.poll(() => sent.some((r) => r.method === "POST" && r.url === `${emulator.url}/api/v1/auth/keys`)).toBe(true);
      // The page's policy is really leaky: its navigation to /auth carried the full page URL.
      expect(sent.find((r) => r.url.startsWith(`${emulator.url}/auth?`))?.referer).toBe(url);
      // The library's token request carried none.
      const exchange = sent.filter((r) => r.method === "POST" && r.url === `${emulator.url}/api/v1/auth/keys`);
      expect(exchange).toHaveLength(1);
      expect(exchange[0]!.referer).toBeUndefined();
    });
  });

  describe("an insecure context", () => {
    it("refuses to start on a genuinely insecure origin (http://app.test) with crypto_unavailable, before any navigation", async () => {
      await raw.route("http://app.test/**", (route) => {
        const { status: code, headers, body } = serve(new URL(route.request().url()).pathname);
        return route.fulfill({ status: code, headers, body });
      });
      const url = "http://app.test/hostile/probe.html";
      await page.goto(url);
      await status("idle");
      expect(await page.evaluate(() => [window.isSecureContext, typeof crypto.subtle])).toEqual([false, "undefined"]);
      const outcome = await startIn(page);
      await expectStayed(watched, outcome, "crypto_unavailable", url, await page.url());
      // Never a silent fallback to plain: nothing was stored for a later callback either.
      expect(outcome.pkceKeys).toEqual([]);
    });

    it("refuses to start with crypto_unavailable when crypto.subtle is gone from a secure page", async () => {
      await raw.addInitScript(() => {
        Object.defineProperty(Crypto.prototype, "subtle", { configurable: true, get: () => undefined });
      });
      const url = `${app}/hostile/probe.html`;
      await page.goto(url);
      await status("idle");
      expect(await page.evaluate(() => [window.isSecureContext, typeof crypto.subtle])).toEqual([true, "undefined"]);
      const outcome = await startIn(page);
      await expectStayed(watched, outcome, "crypto_unavailable", url, await page.url());
      expect(outcome.pkceKeys).toEqual([]);
    });
  });

  describe("storage that cannot hold the transaction", () => {
    const cases: Array<{ name: string; init: () => void; keys: string[] | null }> = [
      {
        name: "disabled (the sessionStorage getter throws SecurityError)",
        init: () => {
          Object.defineProperty(window, "sessionStorage", {
            configurable: true,
            get() {
              throw new DOMException("Access is denied for this document.", "SecurityError");
            },
          });
        },
        keys: null,
      },
      {
        name: "full (setItem throws QuotaExceededError)",
        init: () => {
          Storage.prototype.setItem = function () {
            throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
          };
        },
        keys: [],
      },
      {
        name: "forgetful (setItem accepts and drops the value)",
        init: () => {
          Storage.prototype.setItem = function () {};
        },
        keys: [],
      },
    ];

    it.each(cases.map((c) => [c.name, c] as const))("gives storage_unavailable before any navigation when storage is %s", async (_, { init, keys }) => {
      await raw.addInitScript(init);
      const url = `${app}/hostile/probe.html`;
      await page.goto(url);
      await status("idle");
      const outcome = await startIn(page);
      await expectStayed(watched, outcome, "storage_unavailable", url, await page.url());
      expect(outcome.pkceKeys).toEqual(keys);
      expect(await page.getAttribute("#status", "data-code")).toBe("storage_unavailable");
    });

    it("gives storage_unavailable before any navigation in a sandboxed iframe (allow-scripts, opaque origin)", async () => {
      await page.goto(`${app}/hostile/sandbox.html`);
      await expect.poll(() => raw.frames().some((f) => f.url().endsWith("/hostile/probe.html"))).toBe(true);
      const frame = raw.frames().find((f) => f.url().endsWith("/hostile/probe.html"));
      expect(frame).toBeDefined();
      await frame!.waitForSelector('#status[data-status="idle"]');
      // The frame really is opaque: touching sessionStorage throws there.
      expect(await frame!.evaluate(() => [origin, (() => { try { return typeof sessionStorage.length; } catch (e) { return (e as Error).name; } })()])).toEqual(["null", "SecurityError"]);
      const url = frame!.url();
      const outcome = await startIn(frame!);
      await expectStayed(watched, outcome, "storage_unavailable", url, frame!.url());
      expect(outcome.pkceKeys).toBeNull();
    });
  });
}
