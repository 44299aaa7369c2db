/**
 * One e2e harness for three engines. Tests are written once against {@link EnginePage} (a small
 * subset of Playwright's `Page`) and run in Chromium, Firefox and WebKit by default:
 *
 * ```ts
 * import { forEachEngine } from "../support/engine.ts";
 *
 * forEachEngine((engine) => {
 *   it("signs in", async () => {
 *     const page = await engine.newPage(); // a fresh isolated context; closed after the test
 *     await page.goto(`${app}/`);
 *     await Promise.all([page.waitForURL(`${emulator}/auth?**`), page.click("#connect")]);
 *     expect(await page.textContent("#status")).toBe("idle");
 *   });
 * });
 * ```
 *
 * - `forEachEngine` is `describe.each(ENGINES)`: one `describe("in <engine>")` per engine, ONE browser
 *   per engine per test file (launched in its `beforeAll`, closed in its `afterAll`), a fresh context
 *   (Playwright) or session (WebDriver) per `engine.newPage()` / `engine.newContext()`, closed after
 *   each test. Start the servers once for the file, outside `forEachEngine`.
 * - Chromium and Firefox are driven by playwright-core (Firefox over WebDriver BiDi), WebKit
 *   (WebKitGTK's MiniBrowser) over W3C WebDriver classic through `WebKitWebDriver`, in an Xvfb the
 *   harness starts itself. Nothing is downloaded: Debian's browsers only.
 * - Porting a Playwright test: `launchChromium()` + `browser.newContext()` + `newPage()` become
 *   `engine.newPage()`; every method is async (`await page.url()`); selectors are plain CSS (no
 *   `:has-text`, no `text=`); `Promise.all([context.waitForEvent("page"), click])` becomes
 *   `Promise.all([page.waitForPopup(), click])`.
 * - What WebDriver classic cannot do (request interception, request bodies, console messages, init
 *   scripts) is not in this interface: read the servers' own logs and the page instead. A test that
 *   still needs it uses `forEachEngine(body, { only: [...] })` and says why, or
 *   {@link playwrightPage} for the Playwright engines.
 */
import type { Page as PlaywrightPage } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe } from "vitest";

export type EngineName = "chromium" | "firefox" | "webkit";

/** Every engine, in the order the suite runs them. */
export const ENGINES: readonly EngineName[] = ["chromium", "firefox", "webkit"];

/** The URL a wait is for: a glob (`*` within a path segment, `**` anything; `?` is literal), a RegExp, or a predicate. */
export type UrlMatcher = string | RegExp | ((url: URL) => boolean);

export interface WaitOptions {
  /** Milliseconds; default {@link DEFAULT_TIMEOUT}. */
  timeout?: number;
}

export interface SelectorWaitOptions extends WaitOptions {
  /** Default `"visible"` (like Playwright): attached and rendered with a box. */
  state?: "attached" | "visible" | "hidden" | "detached";
}

/** Generous: the machine running the suite has two shared cores and three browsers. */
export const DEFAULT_TIMEOUT = 20_000;

/** One tab (or popup) of a context. Every method is async and waits like Playwright's namesake. */
export interface EnginePage {
  readonly engine: EngineName;
  /** The context (Playwright) / session (WebDriver) this page lives in. */
  readonly context: EngineContext;
  /** Navigates and waits for the load event. */
  goto(url: string, options?: WaitOptions): Promise<void>;
  /** The current URL (async: WebDriver asks the browser). */
  url(): Promise<string>;
  /** Reloads and waits for the load event. */
  reload(options?: WaitOptions): Promise<void>;
  /** History back (a back/forward cache restore where the engine does one), waits for the load. */
  goBack(options?: WaitOptions): Promise<void>;
  /** Waits until the element is visible and enabled, then clicks it (a real, trusted click). */
  click(selector: string, options?: WaitOptions): Promise<void>;
  /** Waits for the field, then sets its value and fires `input` and `change`. */
  fill(selector: string, value: string, options?: WaitOptions): Promise<void>;
  /** Waits for the `<select>`, selects the option with this value and fires `input` and `change`. */
  selectOption(selector: string, value: string, options?: WaitOptions): Promise<void>;
  /** Waits for the element to be attached, returns its `textContent`. */
  textContent(selector: string, options?: WaitOptions): Promise<string | null>;
  /** Waits for the element to be attached, returns the attribute (`null` when absent). */
  getAttribute(selector: string, name: string, options?: WaitOptions): Promise<string | null>;
  /** Right now, no waiting: is the element there and rendered? */
  isVisible(selector: string): Promise<boolean>;
  /** Right now, no waiting: `!isVisible(selector)`. */
  isHidden(selector: string): Promise<boolean>;
  /** The serialized DOM of the page (`document.documentElement.outerHTML` with the doctype). */
  content(): Promise<string>;
  /**
   * Runs `fn(arg)` in the page (awaiting a returned promise) and returns the result as JSON. `fn`
   * is sent as source text: it cannot close over test variables, pass them in `arg`.
   */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Waits for the selector to reach `state` (default visible). */
  waitForSelector(selector: string, options?: SelectorWaitOptions): Promise<void>;
  /**
   * Waits until the page's URL matches and its document has loaded. In WebKit (no navigation
   * events in WebDriver classic) the URL the current document was loaded with counts too, since
   * callback pages clean their address bar right after loading.
   */
  waitForURL(url: UrlMatcher, options?: WaitOptions): Promise<void>;
  /** Polls `fn(arg)` in the page until it returns something truthy (navigations in between are fine). */
  waitForFunction<A = undefined>(fn: (arg: A) => unknown, arg?: A, options?: WaitOptions): Promise<void>;
  /** The cookies the browser would send to the page's current URL, HttpOnly ones included. */
  cookies(): Promise<Array<{ name: string; value: string }>>;
  /** The page's own sessionStorage keys (optionally only those starting with `prefix`), sorted. */
  sessionStorageKeys(prefix?: string): Promise<string[]>;
  /**
   * Resolves with the next window this page opens (`window.open`, `target=_blank`). Call it
   * BEFORE the action that opens it: `const [popup] = await Promise.all([page.waitForPopup(), page.click("#open")])`.
   */
  waitForPopup(options?: WaitOptions): Promise<EnginePage>;
  /** Resolves once this page's window is closed (by itself, e.g. `window.close()`, or by the test). */
  waitForClose(options?: WaitOptions): Promise<void>;
  /** Is this page's window gone? */
  isClosed(): Promise<boolean>;
  /** Focuses this tab (the one WebDriver commands and user-visible focus go to). */
  bringToFront(): Promise<void>;
  /** A PNG of the viewport (`fullPage` where the engine can) written to `path`. */
  screenshot(options: { path: string; fullPage?: boolean }): Promise<void>;
  /** Closes this window. */
  close(): Promise<void>;
}

/** An isolated browsing session: its own cookies and storage, one or more pages. */
export interface EngineContext {
  readonly engine: EngineName;
  /** Opens another tab in the same context (same cookies and localStorage; its own sessionStorage). */
  newPage(): Promise<EnginePage>;
  /** The pages opened through this harness in this context (popups included once awaited), open or not. */
  pages(): EnginePage[];
  close(): Promise<void>;
}

/** A launched browser. */
export interface Engine {
  readonly name: EngineName;
  /** The browser's own version string (Playwright's `browser.version()`, WebDriver's `browserVersion`). */
  readonly version: string;
  /** A new isolated context. WebKit (one WebDriver session at a time) allows one open context. */
  newContext(): Promise<EngineContext>;
  /** A new isolated context with one page: the usual start of a test. */
  newPage(): Promise<EnginePage>;
  close(): Promise<void>;
}

/** What a test gets inside {@link forEachEngine}: the engine of this `describe`, launched lazily. */
export interface EngineHandle {
  readonly name: EngineName;
  /** The launched engine (throws outside tests and hooks of this describe). */
  readonly engine: Engine;
  /** `engine.newContext()`, closed automatically after the current test. */
  newContext(): Promise<EngineContext>;
  /** A new context with one page, closed automatically after the current test. */
  newPage(): Promise<EnginePage>;
}

/** Launches one engine with this machine's settings (Debian's browsers, never a download). */
export async function launchEngine(name: EngineName): Promise<Engine> {
  if (name === "webkit") {
    const { launchWebKit } = await import("./engine-webdriver.ts");
    return launchWebKit();
  }
  const { launchPlaywrightEngine } = await import("./engine-playwright.ts");
  return launchPlaywrightEngine(name);
}

/**
 * Declares the enclosed tests once per engine (`describe("in chromium" | "in firefox" | "in webkit")`),
 * with one browser per engine for the file. `only` narrows the engines: say why next to it.
 */
export function forEachEngine(body: (engine: EngineHandle) => void, options: { only?: readonly EngineName[] } = {}): void {
  const names = options.only ?? ENGINES;
  describe.each(names.map((name) => [name]))("in %s", (name) => {
    let engine: Engine | undefined;
    const open: EngineContext[] = [];
    beforeAll(async () => {
      engine = await launchEngine(name as EngineName);
      recordVersion(engine);
    }, 120_000);
    afterEach(async () => {
      await Promise.all(open.splice(0).map((context) => context.close().catch(() => {})));
    });
    afterAll(async () => {
      await engine?.close();
      engine = undefined;
    });
    const handle: EngineHandle = {
      name: name as EngineName,
      get engine() {
        if (!engine) throw new Error(`forEachEngine: ${name} is not launched here (use it inside tests and hooks)`);
        return engine;
      },
      async newContext() {
        const context = await handle.engine.newContext();
        open.push(context);
        return context;
      },
      async newPage() {
        const context = await handle.newContext();
        return context.newPage();
      },
    };
    body(handle);
  });
}

/** The engine that runs the {@link inOneEngine} tests. */
export const REFERENCE_ENGINE: EngineName = "chromium";

/**
 * Declares the enclosed tests in {@link REFERENCE_ENGINE} only, under `describe("once (in chromium):
 * <why>")`, inside a {@link forEachEngine} body. For checks whose outcome no browser decides: what a
 * server answers and what the library makes of it (the unit suite runs that library code in every
 * engine). Flows, redirects, popups, storage, tabs, navigation and security policies stay in every
 * engine. Three runs of such a check would prove nothing more and cost `npm test` its time budget.
 */
export function inOneEngine(engine: EngineHandle, why: string, body: () => void): void {
  if (engine.name === REFERENCE_ENGINE) describe(`once (in ${REFERENCE_ENGINE}): ${why}`, body);
}

const printed = new Set<string>();

/** Prints each engine's version once per test file, so every run's output says what it proved. */
function recordVersion(engine: Engine): void {
  if (printed.has(engine.name)) return;
  printed.add(engine.name);
  console.log(`[engine] ${engine.name} ${engine.version}`);
}

/**
 * The Playwright `Page` behind a Chromium or Firefox {@link EnginePage}, for what WebDriver classic
 * cannot do (routes, request events, init scripts). Throws for WebKit: such a test must be limited
 * to the Playwright engines with `forEachEngine(body, { only: ["chromium", "firefox"] })` and say why.
 */
export function playwrightPage(page: EnginePage): PlaywrightPage {
  const raw = (page as EnginePage & { playwright?: PlaywrightPage }).playwright;
  if (!raw) throw new Error(`playwrightPage: ${page.engine} is not driven by Playwright`);
  return raw;
}

/** The predicate a {@link UrlMatcher} stands for. Globs: `**` any characters, `*` any but `/`, the rest literal. */
export function urlPredicate(matcher: UrlMatcher): (url: URL) => boolean {
  if (typeof matcher === "function") return matcher;
  if (matcher instanceof RegExp) return (url) => matcher.test(url.href);
  let source = "";
  for (let i = 0; i < matcher.length; i++) {
    const char = matcher[i]!;
    if (char === "*" && matcher[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (char === "*") source += "[^/]*";
    else source += char.replace(/[.+?^${}()|[\]\\/]/g, "\\$&");
  }
  const pattern = new RegExp(`^${source}$`);
  return (url) => pattern.test(url.href);
}

/** Polls `check` every `interval` ms until it returns a value other than `undefined`, or fails after `timeout`. */
export async function poll<T>(what: string, check: () => Promise<T | undefined>, timeout = DEFAULT_TIMEOUT, interval = 50): Promise<T> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
