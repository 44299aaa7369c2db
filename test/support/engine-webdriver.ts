/**
 * The WebKit adapter of the e2e harness (./engine.ts): WebKitGTK's MiniBrowser driven over W3C
 * WebDriver classic by Debian's `WebKitWebDriver` (package webkit2gtk-driver), with plain HTTP
 * calls. MiniBrowser has no headless mode, so the adapter starts its own Xvfb (package xvfb)
 * unless none is installed and a DISPLAY is already there.
 *
 * One driver (on a free loopback port) and one Xvfb per launched engine, one WebDriver session
 * (one MiniBrowser process, fresh website data) per context. Commands of a session are queued, and
 * each page first switches the session to its own window, so several pages can be driven in turn
 * like Playwright pages.
 */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { freePort, MINIBROWSER, WEBKIT_DRIVER as DRIVER, xDisplay } from "./local.ts";
import { DEFAULT_TIMEOUT, poll, urlPredicate, type Engine, type EngineContext, type EnginePage, type SelectorWaitOptions, type WaitOptions } from "./engine.ts";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

type ElementRef = { [ELEMENT]: string };

class WebDriverError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(`WebDriver ${error}: ${message.split("\n")[0]}`);
  }
}

/**
 * Raw W3C WebDriver over HTTP. Every command has a deadline (well past the page load timeout), so
 * a driver that stops answering fails the test instead of hanging it.
 */
async function request(base: string, method: string, path: string, body?: unknown, timeout = DEFAULT_TIMEOUT * 3): Promise<unknown> {
  const signal = AbortSignal.timeout(timeout);
  const response = await fetch(
    `${base}${path}`,
    body === undefined ? { method, signal } : { method, signal, headers: { "Content-Type": "application/json; charset=utf-8" }, body: JSON.stringify(body) },
  );
  const json = (await response.json()) as { value: unknown };
  const value = json.value as { error?: string; message?: string } | null;
  if (!response.ok || (value && typeof value === "object" && typeof value.error === "string")) {
    throw new WebDriverError(value?.error ?? String(response.status), value?.message ?? "");
  }
  return json.value;
}

/** Launches WebKitWebDriver (and Xvfb) and reads MiniBrowser's version from a first session. */
export async function launchWebKit(): Promise<Engine> {
  for (const binary of [DRIVER, MINIBROWSER]) {
    if (!existsSync(binary)) throw new Error(`WebKit: ${binary} is missing (apt-get install webkit2gtk-driver)`);
  }
  const screen = await xDisplay();
  const display = screen.display;
  const port = await freePort();
  // --replace-on-new-session: a session whose deletion went wrong never blocks the next context.
  const driver = spawn(DRIVER, [`--port=${port}`, "--host=127.0.0.1", "--replace-on-new-session"], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, DISPLAY: display },
  });
  let driverLog = "";
  driver.stderr!.on("data", (chunk: Buffer) => (driverLog = (driverLog + chunk.toString()).slice(-4000)));
  const kill = () => {
    driver.kill();
    screen.stop();
  };
  process.once("exit", kill);
  const base = `http://127.0.0.1:${port}`;
  try {
    await poll("WebKitWebDriver to listen", async () => ((await request(base, "GET", "/status")) ? true : undefined), 20_000);
  } catch (error) {
    kill();
    throw new Error(`${(error as Error).message}; driver said: ${driverLog.trim()}`);
  }

  let open: Session | undefined;
  const newSession = async (): Promise<Session> => {
    if (open && !open.closed) throw new Error("WebKit: one context at a time (WebKitWebDriver runs one session); close the other first");
    open = await Session.create(base);
    return open;
  };
  // The version comes from the browser itself (capabilities.browserVersion) and the first session
  // is kept for the first context, so reading it costs no extra MiniBrowser start.
  let spare: Session | undefined = await newSession();
  const version = spare.browserVersion;

  const engine: Engine = {
    name: "webkit",
    version,
    async newContext() {
      const session = spare ?? (await newSession());
      spare = undefined;
      return session.context;
    },
    async newPage() {
      return (await engine.newContext()).newPage();
    },
    async close() {
      await open?.close();
      process.off("exit", kill);
      driver.kill();
      screen.stop();
      await Promise.all(
        [driver, screen.process].map((child) =>
          child && child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once("exit", resolve)) : undefined,
        ),
      );
    },
  };
  return engine;
}

/** One WebDriver session: one MiniBrowser with its own website data. */
class Session {
  closed = false;
  current: string;
  readonly context: EngineContext;
  readonly pages: WebDriverPage[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private firstHandle: string | undefined;

  private constructor(
    private readonly base: string,
    readonly id: string,
    readonly browserVersion: string,
    initialHandle: string,
  ) {
    this.current = initialHandle;
    this.firstHandle = initialHandle;
    const session = this;
    this.context = {
      engine: "webkit",
      async newPage() {
        const first = session.firstHandle;
        session.firstHandle = undefined;
        const handle = first ?? ((await session.run(null, (cmd) => cmd("POST", "/window/new", { type: "tab" }))) as { handle: string }).handle;
        return session.page(handle);
      },
      pages: () => [...session.pages],
      close: () => session.close(),
    };
  }

  /** A new session; on a busy machine MiniBrowser can fail to come up once, so one more try. */
  static async create(base: string): Promise<Session> {
    try {
      return await Session.createOnce(base);
    } catch {
      return Session.createOnce(base);
    }
  }

  private static async createOnce(base: string): Promise<Session> {
    const created = (await request(base, "POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "MiniBrowser",
          pageLoadStrategy: "normal",
          timeouts: { script: DEFAULT_TIMEOUT * 2, pageLoad: DEFAULT_TIMEOUT * 2, implicit: 0 },
          "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
        },
      },
    }, DEFAULT_TIMEOUT)) as { sessionId: string; capabilities: { browserVersion: string } };
    const id = created.sessionId;
    const handle = (await request(base, "GET", `/session/${id}/window`)) as string;
    await request(base, "POST", `/session/${id}/window/rect`, { width: 1280, height: 900 }).catch(() => {});
    return new Session(base, id, created.capabilities.browserVersion, handle);
  }

  page(handle: string): WebDriverPage {
    const page = new WebDriverPage(this, handle);
    this.pages.push(page);
    return page;
  }

  /**
   * Runs `task` alone on this session (commands are queued), after switching to `handle` unless
   * it is null. `cmd` sends one command of this session.
   */
  run<T>(handle: string | null, task: (cmd: (method: string, path: string, body?: unknown) => Promise<unknown>) => Promise<T>): Promise<T> {
    const cmd = (method: string, path: string, body?: unknown) => request(this.base, method, `/session/${this.id}${path}`, body);
    const result = this.queue.then(async () => {
      if (this.closed) throw new Error("WebKit: this context is closed");
      if (handle !== null && handle !== this.current) {
        await cmd("POST", "/window", { handle });
        this.current = handle;
      }
      return task(cmd);
    });
    this.queue = result.catch(() => {});
    return result;
  }

  handles(): Promise<string[]> {
    return this.run(null, (cmd) => cmd("GET", "/window/handles")) as Promise<string[]>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    await request(this.base, "DELETE", `/session/${this.id}`).catch(() => {});
  }
}

/** Runs in the page: finds `selector` and reports its state, or the element when it is ready for `want`. */
const PROBE = `
  var selector = arguments[0], want = arguments[1];
  var el = document.querySelector(selector);
  if (!el) return { found: false };
  var style = getComputedStyle(el);
  var visible = el.getClientRects().length > 0 && style.visibility !== "hidden";
  var enabled = !el.disabled;
  return { found: true, visible: visible, enabled: enabled, element: el };
`;

interface Probe {
  found: boolean;
  visible?: boolean;
  enabled?: boolean;
  element?: ElementRef;
}

class WebDriverPage implements EnginePage {
  readonly engine = "webkit" as const;
  readonly context: EngineContext;

  constructor(
    private readonly session: Session,
    readonly handle: string,
  ) {
    this.context = session.context;
  }

  private run<T>(task: (cmd: (method: string, path: string, body?: unknown) => Promise<unknown>) => Promise<T>): Promise<T> {
    return this.session.run(this.handle, task);
  }

  private script<T>(body: string, args: unknown[] = []): Promise<T> {
    return this.run((cmd) => cmd("POST", "/execute/sync", { script: body, args })) as Promise<T>;
  }

  private probe(selector: string): Promise<Probe> {
    return this.script<Probe>(PROBE, [selector]);
  }

  /** Waits until the probe of `selector` satisfies `ready`, returns it. */
  private waitFor(selector: string, what: string, ready: (probe: Probe) => boolean, options?: WaitOptions): Promise<Probe> {
    return poll(`${what} ${selector}`, async () => {
      const probe = await this.probe(selector);
      return ready(probe) ? probe : undefined;
    }, options?.timeout ?? DEFAULT_TIMEOUT);
  }

  async goto(url: string): Promise<void> {
    await this.run((cmd) => cmd("POST", "/url", { url }));
  }

  url(): Promise<string> {
    return this.run((cmd) => cmd("GET", "/url")) as Promise<string>;
  }

  async reload(): Promise<void> {
    await this.run((cmd) => cmd("POST", "/refresh", {}));
  }

  async goBack(): Promise<void> {
    await this.run((cmd) => cmd("POST", "/back", {}));
  }

  async click(selector: string, options?: WaitOptions): Promise<void> {
    // Like Playwright: wait until visible and enabled; retry a click that lost a race with a re-render.
    await poll(`a clickable ${selector}`, async () => {
      const probe = await this.probe(selector);
      if (!probe.found || !probe.visible || !probe.enabled) return undefined;
      try {
        await this.run((cmd) => cmd("POST", `/element/${probe.element![ELEMENT]}/click`, {}));
        return true;
      } catch (error) {
        if (error instanceof WebDriverError && /stale|intercepted|not interactable/.test(error.error)) return undefined;
        throw error;
      }
    }, options?.timeout ?? DEFAULT_TIMEOUT);
  }

  async fill(selector: string, value: string, options?: WaitOptions): Promise<void> {
    await this.setValue(selector, value, options);
  }

  async selectOption(selector: string, value: string, options?: WaitOptions): Promise<void> {
    await this.setValue(selector, value, options);
  }

  /**
   * Sets a field's value the way Playwright's fill does for it: through the element's own value
   * setter, then `input` and `change`. (WebDriver's Element Send Keys cannot type into a
   * datetime-local or pick a select option; one path for every field keeps the engines alike.)
   */
  private async setValue(selector: string, value: string, options?: WaitOptions): Promise<void> {
    await this.waitFor(selector, "a visible", (p) => p.found && p.visible === true && p.enabled === true, options);
    const ok = await this.script<boolean>(
      `var el = document.querySelector(arguments[0]);
       if (!el) return false;
       el.focus();
       var proto = Object.getPrototypeOf(el);
       var setter = Object.getOwnPropertyDescriptor(proto, "value");
       if (setter && setter.set) setter.set.call(el, arguments[1]); else el.value = arguments[1];
       el.dispatchEvent(new Event("input", { bubbles: true }));
       el.dispatchEvent(new Event("change", { bubbles: true }));
       return el.value === arguments[1];`,
      [selector, value],
    );
    if (!ok) throw new Error(`fill: ${selector} did not take the value`);
  }

  async textContent(selector: string, options?: WaitOptions): Promise<string | null> {
    await this.waitFor(selector, "an attached", (p) => p.found, options);
    return this.script<string | null>("var el = document.querySelector(arguments[0]); return el ? el.textContent : null;", [selector]);
  }

  async getAttribute(selector: string, name: string, options?: WaitOptions): Promise<string | null> {
    await this.waitFor(selector, "an attached", (p) => p.found, options);
    return this.script<string | null>("var el = document.querySelector(arguments[0]); return el ? el.getAttribute(arguments[1]) : null;", [selector, name]);
  }

  async isVisible(selector: string): Promise<boolean> {
    const probe = await this.probe(selector);
    return probe.found && probe.visible === true;
  }

  async isHidden(selector: string): Promise<boolean> {
    return !(await this.isVisible(selector));
  }

  content(): Promise<string> {
    return this.script<string>(
      'return (document.doctype ? new XMLSerializer().serializeToString(document.doctype) : "") + document.documentElement.outerHTML;',
    );
  }

  async evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    // The function's source becomes part of the WebDriver script itself (no eval in the page, so
    // it runs under `script-src 'self'` and Trusted Types too).
    const outcome = (await this.run((cmd) =>
      cmd("POST", "/execute/async", {
        script: `var arg = arguments[0], done = arguments[arguments.length - 1];
          Promise.resolve().then(function () { return (${fn.toString()})(arg); }).then(
            function (value) { done({ ok: true, value: value === undefined ? null : value }); },
            function (error) { done({ ok: false, error: String(error && error.stack ? error.message + "\\n" + error.stack : error) }); });`,
        args: [arg === undefined ? null : arg],
      }),
    )) as { ok: true; value: R } | { ok: false; error: string };
    if (!outcome.ok) throw new Error(`evaluate: ${outcome.error}`);
    return outcome.value;
  }

  async waitForSelector(selector: string, options: SelectorWaitOptions = {}): Promise<void> {
    const state = options.state ?? "visible";
    const ready: Record<typeof state, (p: Probe) => boolean> = {
      attached: (p) => p.found,
      visible: (p) => p.found && p.visible === true,
      hidden: (p) => !p.found || p.visible !== true,
      detached: (p) => !p.found,
    };
    await this.waitFor(selector, `a ${state}`, ready[state], options);
  }

  async waitForURL(url: string | RegExp | ((url: URL) => boolean), options?: WaitOptions): Promise<void> {
    const matches = urlPredicate(url);
    // WebDriver classic reports no navigations, and a callback page replaces its URL right after it
    // loads; so the URL the document was loaded with (its navigation timing entry) counts too,
    // which is what Playwright's navigation events give the other engines.
    await poll(`the URL ${String(url)}`, async () => {
      const [href, loadedAs, readyState] = await this.script<[string, string, string]>(
        'var nav = performance.getEntriesByType("navigation")[0]; return [location.href, nav ? nav.name : location.href, document.readyState];',
      );
      return (matches(new URL(href)) || matches(new URL(loadedAs))) && readyState === "complete" ? true : undefined;
    }, options?.timeout ?? DEFAULT_TIMEOUT * 2);
  }

  async waitForFunction<A = undefined>(fn: (arg: A) => unknown, arg?: A, options?: WaitOptions): Promise<void> {
    await poll(`the function ${fn.toString().slice(0, 80)}`, async () => ((await this.evaluate(fn, arg as A)) ? true : undefined), options?.timeout ?? DEFAULT_TIMEOUT);
  }

  async cookies(): Promise<Array<{ name: string; value: string }>> {
    const all = (await this.run((cmd) => cmd("GET", "/cookie"))) as Array<{ name: string; value: string }>;
    return all.map(({ name, value }) => ({ name, value }));
  }

  sessionStorageKeys(prefix = ""): Promise<string[]> {
    return this.evaluate((p) => Object.keys(sessionStorage).filter((key) => key.startsWith(p)).sort(), prefix);
  }

  waitForPopup(options?: WaitOptions): Promise<EnginePage> {
    // Taken now, queued before the action the caller starts next.
    const before = this.session.handles();
    return (async () => {
      const known = new Set(await before);
      const handle = await poll("a popup", async () => {
        const claimed = new Set(this.session.pages.map((page) => page.handle));
        return (await this.session.handles()).find((h) => !known.has(h) && !claimed.has(h));
      }, options?.timeout ?? DEFAULT_TIMEOUT);
      return this.session.page(handle);
    })();
  }

  async waitForClose(options?: WaitOptions): Promise<void> {
    await poll("the window to close", async () => ((await this.isClosed()) ? true : undefined), options?.timeout ?? DEFAULT_TIMEOUT);
  }

  async isClosed(): Promise<boolean> {
    return this.session.closed || !(await this.session.handles()).includes(this.handle);
  }

  async bringToFront(): Promise<void> {
    await this.run(async () => undefined);
  }

  async screenshot({ path }: { path: string; fullPage?: boolean }): Promise<void> {
    const png = (await this.run((cmd) => cmd("GET", "/screenshot"))) as string;
    writeFileSync(path, Buffer.from(png, "base64"));
  }

  async close(): Promise<void> {
    await this.run((cmd) => cmd("DELETE", "/window"));
  }
}
