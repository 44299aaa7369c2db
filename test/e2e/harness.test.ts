/**
 * The e2e harness itself (test/support/engine.ts) in every engine, on tiny pages of a local server:
 * what the OAuth tests rely on (popups, a second tab, Back, reload, evaluate, waits) does the same
 * thing everywhere; and the README's "Browser support" table names the versions that really ran.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { forEachEngine, urlPredicate } from "../support/engine.ts";

const PAGES: Record<string, string> = {
  "/": `<!doctype html><meta charset="utf-8"><title>opener</title>
    <button id="open" type="button">open</button> <a id="next" href="/next?step=2">next</a>
    <input id="field"> <select id="pick"><option value="a">a</option><option value="b">b</option></select>
    <p id="status" data-status="idle">idle</p> <p id="hidden" hidden>hidden</p>
    <script src="/app.js"></script>`,
  "/next": `<!doctype html><meta charset="utf-8"><title>next</title><p id="status" data-status="next">next</p>`,
  "/popup": `<!doctype html><meta charset="utf-8"><title>popup</title><button id="done" type="button">done</button>
    <script src="/popup.js"></script>`,
  "/app.js": `
    document.getElementById("open").addEventListener("click", () => { window.open("/popup", "signin", "popup,width=400,height=400"); });
    document.getElementById("field").addEventListener("input", (e) => { document.getElementById("status").textContent = "typed " + e.target.value; });
    document.getElementById("pick").addEventListener("change", (e) => { document.getElementById("status").dataset.pick = e.target.value; });
    window.addEventListener("message", (e) => { if (e.origin === location.origin) { const s = document.getElementById("status"); s.textContent = e.data; s.dataset.status = "messaged"; } });
    window.addEventListener("pageshow", (e) => { document.documentElement.dataset.persisted = String(e.persisted); });
    sessionStorage.setItem("harness:loads", String(Number(sessionStorage.getItem("harness:loads") ?? "0") + 1));`,
  "/popup.js": `
    document.getElementById("done").addEventListener("click", () => { window.opener.postMessage("from popup", location.origin); window.close(); });`,
};

let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const body = PAGES[path];
    if (body === undefined) return void res.writeHead(path === "/favicon.ico" ? 204 : 404).end();
    res.writeHead(200, { "Content-Type": path.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

it("matches URL globs like Playwright: * stays in a segment, ** spans, ? is literal", () => {
  const match = (glob: string, href: string) => urlPredicate(glob)(new URL(href));
  expect(match("http://a.test/?**", "http://a.test/?code=1&state=2")).toBe(true);
  expect(match("http://a.test/?**", "http://a.test/")).toBe(false);
  expect(match("http://a.test/*/x", "http://a.test/a/x")).toBe(true);
  expect(match("http://a.test/*/x", "http://a.test/a/b/x")).toBe(false);
  expect(match("http://a.test/**/x", "http://a.test/a/b/x")).toBe(true);
  expect(match("http://a.test/a.b", "http://a.test/aXb")).toBe(false);
});

forEachEngine((engine) => {
  it("reports the version it runs, and the README's Browser support table names that version", async () => {
    const { version } = engine.engine;
    expect(version).toMatch(/^\d+\.\d+/);
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Browser support"));
    const row = section.split("\n").find((line) => line.startsWith(`| ${engine.name === "webkit" ? "WebKit" : engine.name === "firefox" ? "Firefox" : "Chromium"} `));
    expect(row, `README "Browser support" needs a row for ${engine.name}`).toBeDefined();
    expect(row, `README "Browser support" must name ${engine.name} ${version}, the version this run used`).toContain(` ${version} `);
  });

  it("clicks, fills, selects, reads text and attributes, evaluates, and waits for conditions", async () => {
    const page = await engine.newPage();
    await page.goto(`${origin}/`);
    expect(await page.url()).toBe(`${origin}/`);
    await page.fill("#field", "hello");
    expect(await page.textContent("#status")).toBe("typed hello");
    await page.selectOption("#pick", "b");
    expect(await page.getAttribute("#status", "data-pick")).toBe("b");
    expect(await page.getAttribute("#status", "data-missing")).toBeNull();
    expect(await page.isVisible("#status")).toBe(true);
    expect(await page.isHidden("#hidden")).toBe(true);
    expect(await page.isHidden("#nothing")).toBe(true);
    expect(await page.evaluate((n) => ({ doubled: n * 2, title: document.title }), 21)).toEqual({ doubled: 42, title: "opener" });
    expect(await page.evaluate(async () => [await Promise.resolve("async"), isSecureContext])).toEqual(["async", true]);
    await expect(page.evaluate(() => { throw new Error("boom in page"); })).rejects.toThrow(/boom in page/);
    expect(await page.content()).toContain('<p id="hidden" hidden="">hidden</p>');
    expect(await page.sessionStorageKeys("harness:")).toEqual(["harness:loads"]);
    await page.evaluate(() => (document.cookie = "harness=yes; path=/"));
    expect(await page.cookies()).toContainEqual({ name: "harness", value: "yes" });
    await page.evaluate(() => setTimeout(() => document.body.setAttribute("data-late", "yes"), 300));
    await page.waitForFunction(() => document.body.dataset["late"] === "yes");
    await page.waitForSelector("#hidden", { state: "hidden" });
    await expect(page.waitForSelector("#never", { timeout: 500 })).rejects.toThrow();
  });

  it("follows a link, goes Back and reloads, keeping the tab's sessionStorage", async () => {
    const page = await engine.newPage();
    await page.goto(`${origin}/`);
    await Promise.all([page.waitForURL(`${origin}/next?**`), page.click("#next")]);
    expect(await page.textContent("#status")).toBe("next");
    await page.goBack();
    await page.waitForURL(`${origin}/`);
    await page.waitForSelector('#status[data-status="idle"]');
    // The page came back either from the back/forward cache or by loading again; both are fine here.
    expect(["true", "false"]).toContain(await page.getAttribute("html", "data-persisted"));
    await page.reload();
    await page.waitForSelector('html[data-persisted="false"]', { state: "attached" });
    expect(Number(await page.evaluate(() => sessionStorage.getItem("harness:loads")))).toBeGreaterThanOrEqual(2);
  });

  it("gets a handle on a popup opened by window.open, acts in it and sees it close", async () => {
    const page = await engine.newPage();
    await page.goto(`${origin}/`);
    const [popup] = await Promise.all([page.waitForPopup(), page.click("#open")]);
    await popup.waitForURL(`${origin}/popup`);
    expect(await popup.evaluate(() => window.opener !== null && window.name)).toBe("signin");
    expect(await popup.isClosed()).toBe(false);
    await popup.click("#done");
    await popup.waitForClose();
    expect(await popup.isClosed()).toBe(true);
    await page.waitForSelector('#status[data-status="messaged"]');
    expect(await page.textContent("#status")).toBe("from popup");
    expect(page.context.pages()).toContain(popup);
  });

  it("opens a second tab in the same context: shared localStorage, separate sessionStorage", async () => {
    const first = await engine.newPage();
    await first.goto(`${origin}/next`);
    await first.evaluate(() => {
      localStorage.setItem("harness:shared", "yes");
      sessionStorage.setItem("harness:own", "first");
    });
    const second = await first.context.newPage();
    await second.goto(`${origin}/next`);
    expect(await second.evaluate(() => [localStorage.getItem("harness:shared"), sessionStorage.getItem("harness:own")])).toEqual(["yes", null]);
    // Back to the first tab: its own state is intact.
    expect(await first.evaluate(() => sessionStorage.getItem("harness:own"))).toBe("first");
    await second.close();
    expect(await second.isClosed()).toBe(true);
    expect(await first.url()).toBe(`${origin}/next`);
  });

  it("gives every newPage() a fresh context: nothing stored by the previous test's context", async () => {
    const page = await engine.newPage();
    await page.goto(`${origin}/next`);
    expect(await page.evaluate(() => localStorage.getItem("harness:shared"))).toBeNull();
  });
});
