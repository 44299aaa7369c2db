/**
 * The Chromium and Firefox adapters of the e2e harness (./engine.ts), over playwright-core:
 * Debian's Chromium over CDP, Debian's Firefox ESR over WebDriver BiDi.
 */
import { writeFileSync } from "node:fs";
import { chromium, firefox, type Browser, type BrowserContext, type Page } from "playwright-core";
import { CHROMIUM, FIREFOX } from "../../vite.config.ts";
import { DEFAULT_TIMEOUT, urlPredicate, type Engine, type EngineContext, type EnginePage, type SelectorWaitOptions, type UrlMatcher, type WaitOptions } from "./engine.ts";

/** Launches Debian's Chromium or Firefox ESR headless. */
export async function launchPlaywrightEngine(name: "chromium" | "firefox"): Promise<Engine> {
  const browser: Browser =
    name === "chromium"
      ? await chromium.launch({ ...CHROMIUM, headless: true })
      : await firefox.launch({
          ...FIREFOX,
          // playwright-core 1.64's BiDi Firefox loses the page when Firefox restores it from the
          // back/forward cache (goBack never resolves, the next click waits forever), so the e2e
          // Firefox keeps no cached pages: Back loads the page again. bfcache restores are proven
          // in Chromium and WebKit. (The unit tests' Firefox keeps its default.)
          firefoxUserPrefs: { ...FIREFOX.firefoxUserPrefs, "browser.sessionhistory.max_total_viewers": 0 },
          headless: true,
        });
  const engine: Engine = {
    name,
    version: browser.version(),
    async newContext() {
      return wrapContext(name, await browser.newContext());
    },
    async newPage() {
      return (await engine.newContext()).newPage();
    },
    close: () => browser.close(),
  };
  return engine;
}

function wrapContext(name: "chromium" | "firefox", raw: BrowserContext): EngineContext {
  raw.setDefaultTimeout(DEFAULT_TIMEOUT);
  raw.setDefaultNavigationTimeout(DEFAULT_TIMEOUT * 2);
  const pages: EnginePage[] = [];
  const context: EngineContext = {
    engine: name,
    async newPage() {
      return wrapPage(await raw.newPage());
    },
    pages: () => [...pages],
    close: () => raw.close(),
  };
  const wrapPage = (page: Page): EnginePage => {
    const wrapped: EnginePage & { playwright: Page } = {
      engine: name,
      context,
      playwright: page,
      async goto(url, options) {
        await page.goto(url, timeout(options, 2));
      },
      async url() {
        return page.url();
      },
      async reload(options) {
        await page.reload(timeout(options, 2));
      },
      async goBack(options) {
        await page.goBack(timeout(options, 2));
      },
      async click(selector, options) {
        try {
          await page.click(selector, timeout(options));
        } catch (error) {
          // A click that makes the page close itself (a popup's last act) is a click that worked;
          // Firefox over BiDi reports it as a failure of the click.
          if (page.isClosed() || /has been closed/.test((error as Error).message)) return;
          throw error;
        }
      },
      async fill(selector, value, options) {
        await page.fill(selector, value, timeout(options));
      },
      async selectOption(selector, value, options) {
        await page.selectOption(selector, value, timeout(options));
      },
      textContent: (selector, options) => page.textContent(selector, timeout(options)),
      getAttribute: (selector, attribute, options) => page.getAttribute(selector, attribute, timeout(options)),
      isVisible: (selector) => page.isVisible(selector),
      isHidden: (selector) => page.isHidden(selector),
      content: () => page.content(),
      evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg?: A) => page.evaluate(fn as (arg: unknown) => Promise<R>, arg as unknown) as Promise<R>,
      async waitForSelector(selector, options: SelectorWaitOptions = {}) {
        await page.waitForSelector(selector, { state: options.state ?? "visible", ...timeout(options) });
      },
      async waitForURL(url: UrlMatcher, options) {
        await page.waitForURL(urlPredicate(url), timeout(options, 2));
      },
      async waitForFunction(fn, arg, options) {
        await page.waitForFunction(fn as (arg: unknown) => unknown, arg, timeout(options));
      },
      async cookies() {
        return (await raw.cookies(page.url())).map(({ name, value }) => ({ name, value }));
      },
      sessionStorageKeys: (prefix = "") =>
        page.evaluate((p) => Object.keys(sessionStorage).filter((key) => key.startsWith(p)).sort(), prefix),
      async waitForPopup(options) {
        const popup = await page.waitForEvent("popup", timeout(options));
        return wrapPage(popup);
      },
      async waitForClose(options) {
        if (page.isClosed()) return;
        await page.waitForEvent("close", timeout(options));
      },
      isClosed: async () => page.isClosed(),
      bringToFront: () => page.bringToFront(),
      async screenshot({ path, fullPage }) {
        writeFileSync(path, await page.screenshot({ fullPage: fullPage ?? false }));
      },
      close: () => page.close(),
    };
    pages.push(wrapped);
    return wrapped;
  };
  return context;
}

function timeout(options: WaitOptions | undefined, factor = 1): { timeout: number } {
  return { timeout: options?.timeout ?? DEFAULT_TIMEOUT * factor };
}
