/**
 * Drives oidc-provider's built-in development interaction pages (demo/oidc/server.ts) in a
 * harness page (test/support/engine.ts, any engine) or a Playwright page: the "Sign-in" form (any
 * login, any password), the "Authorize" consent form, and the "[ Cancel ]" link that aborts the
 * interaction with `error=access_denied`. Plain CSS selectors only, so WebDriver can use them.
 *
 * Every helper waits for the form it needs (`waitFor` follows navigations), so call it right after
 * navigating to the authorization URL; no sleeps. The caller then waits for its callback with
 * `page.waitForURL(...)`, or passes `callbackUrl` to have the helper do it.
 */
import { urlPredicate, type UrlMatcher } from "./engine.ts";

export type { UrlMatcher };

/** What these helpers need of a page: `EnginePage` and Playwright's `Page` both have it. */
export interface LoginPage {
  click(selector: string, options?: { timeout?: number }): Promise<unknown>;
  fill(selector: string, value: string, options?: { timeout?: number }): Promise<unknown>;
  waitForSelector(selector: string, options?: { timeout?: number; state?: "attached" | "visible" }): Promise<unknown>;
  waitForURL(url: UrlMatcher, options?: { timeout?: number }): Promise<unknown>;
  url(): string | Promise<string>;
}

export interface OidcLoginOptions {
  /** Login name; becomes the `sub` (and `name`, and `<login>@example.test` as `email`). Default `alice`. */
  login?: string;
  /** Ignored by the dev interactions, but the form requires one. Default `password`. */
  password?: string;
  /** When set, wait until the browser reaches this URL after the last step and return it. */
  callbackUrl?: UrlMatcher;
  /** Per-step timeout in ms (default 30000). */
  timeout?: number;
}

const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"])';
const CONSENT_FORM = 'form:has(input[name="prompt"][value="consent"])';
/** The dev interactions' "[ Cancel ]" link: `<a href="/interaction/:uid/abort">`. */
const CANCEL_LINK = 'a[href$="/abort"]';

/**
 * Waits for the callback and returns the URL it arrived with (captured as the wait sees it, since
 * a callback page may clean its address bar right away).
 */
async function finish(page: LoginPage, options: OidcLoginOptions): Promise<URL | null> {
  if (options.callbackUrl === undefined) return null;
  const matches = urlPredicate(options.callbackUrl);
  let seen: URL | undefined;
  await page.waitForURL(
    (url) => {
      const hit = matches(url);
      if (hit) seen ??= new URL(url.href);
      return hit;
    },
    { timeout: options.timeout ?? 30_000 },
  );
  return seen ?? new URL(await page.url());
}

/** Fills and submits the Sign-in page. Resolves once the form is submitted. */
export async function submitOidcLogin(page: LoginPage, options: OidcLoginOptions = {}): Promise<void> {
  const timeout = options.timeout ?? 30_000;
  await page.waitForSelector(LOGIN_FORM, { timeout });
  await page.fill(`${LOGIN_FORM} input[name="login"]`, options.login ?? "alice", { timeout });
  await page.fill(`${LOGIN_FORM} input[name="password"]`, options.password ?? "password", { timeout });
  await page.click(`${LOGIN_FORM} button[type="submit"]`, { timeout });
}

/** Waits for the consent ("Authorize") page and presses Continue. */
export async function submitOidcConsent(page: LoginPage, options: Pick<OidcLoginOptions, "timeout"> = {}): Promise<void> {
  const timeout = options.timeout ?? 30_000;
  await page.waitForSelector(CONSENT_FORM, { timeout });
  await page.click(`${CONSENT_FORM} button[type="submit"]`, { timeout });
}

/**
 * Sign-in, then consent. Returns the landing URL when `callbackUrl` is given, otherwise `null`
 * right after the consent form is submitted.
 */
export async function completeOidcLogin(page: LoginPage, options: OidcLoginOptions = {}): Promise<URL | null> {
  await submitOidcLogin(page, options);
  await submitOidcConsent(page, options);
  return finish(page, options);
}

/**
 * Sign-in, then press "[ Cancel ]" on the consent page: the provider redirects back with
 * `error=access_denied` (`error_description=End-User aborted interaction`).
 */
export async function cancelOidcConsent(page: LoginPage, options: OidcLoginOptions = {}): Promise<URL | null> {
  const timeout = options.timeout ?? 30_000;
  await submitOidcLogin(page, options);
  await page.waitForSelector(CONSENT_FORM, { timeout });
  await page.click(CANCEL_LINK, { timeout });
  return finish(page, options);
}

/** Press "[ Cancel ]" on the Sign-in page itself (also `error=access_denied`). */
export async function cancelOidcLogin(page: LoginPage, options: OidcLoginOptions = {}): Promise<URL | null> {
  const timeout = options.timeout ?? 30_000;
  await page.waitForSelector(LOGIN_FORM, { timeout });
  await page.click(CANCEL_LINK, { timeout });
  return finish(page, options);
}

/**
 * Answers the server's Sign-in and Authorize pages from Node, with a cookie jar of its own, for an
 * authorization URL the page under test built (its transaction stays in the browser), and returns
 * the callback URL the server redirects to, WITHOUT the browser following it. For tests that must
 * alter the callback before the browser loads it, in any engine (WebDriver classic cannot rewrite
 * a redirect).
 */
export async function signInWithoutBrowser(authorizationUrl: string, options: { login?: string; password?: string } = {}): Promise<URL> {
  const jar = new Map<string, string>();
  const origin = new URL(authorizationUrl).origin;
  const send = async (url: URL, body?: URLSearchParams): Promise<Response> => {
    const response = await fetch(url, {
      method: body ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
        ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(body ? { body } : {}),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const at = pair!.indexOf("=");
      jar.set(pair!.slice(0, at).trim(), pair!.slice(at + 1).trim());
    }
    return response;
  };
  let url = new URL(authorizationUrl);
  let body: URLSearchParams | undefined;
  for (let hop = 0; hop < 12; hop++) {
    const response = await send(url, body);
    body = undefined;
    const location = response.headers.get("location");
    if (location) {
      const next = new URL(location, url);
      if (next.origin !== origin) return next;
      url = next;
      continue;
    }
    // An interaction page: answer the prompt it shows, at its own address.
    const html = await response.text();
    const prompt = /name="prompt" value="(login|consent)"/.exec(html)?.[1];
    if (response.status !== 200 || !prompt) throw new Error(`signInWithoutBrowser: unexpected ${response.status} at ${url.pathname}`);
    body = new URLSearchParams(prompt === "login" ? { prompt, login: options.login ?? "alice", password: options.password ?? "password" } : { prompt });
  }
  throw new Error("signInWithoutBrowser: too many redirects");
}
