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
