/**
 * Drives oidc-provider's built-in development interaction pages (demo/oidc/server.ts) in a
 * Playwright page: the "Sign-in" form (any login, any password), the "Authorize" consent form,
 * and the "[ Cancel ]" link that aborts the interaction with `error=access_denied`.
 *
 * Every helper waits for the form it needs (`waitFor` follows navigations), so call it right after
 * navigating to the authorization URL; no sleeps. The caller then waits for its callback with
 * `page.waitForURL(...)`, or passes `callbackUrl` to have the helper do it.
 */
import type { Page } from "playwright-core";

export type UrlMatcher = string | RegExp | ((url: URL) => boolean);

export interface OidcLoginOptions {
  /** Login name; becomes the `sub` (and `name`, and `<login>@example.test` as `email`). Default `alice`. */
  login?: string;
  /** Ignored by the dev interactions, but the form requires one. Default `password`. */
  password?: string;
  /** When set, wait until the browser reaches this URL after the last step and return it. */
  callbackUrl?: UrlMatcher;
  /** Per-step timeout in ms (default 15000). */
  timeout?: number;
}

const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"])';
const CONSENT_FORM = 'form:has(input[name="prompt"][value="consent"])';
const CANCEL_LINK = 'a:has-text("[ Cancel ]")';

async function finish(page: Page, options: OidcLoginOptions): Promise<URL | null> {
  if (options.callbackUrl === undefined) return null;
  await page.waitForURL(options.callbackUrl, { timeout: options.timeout ?? 15_000 });
  return new URL(page.url());
}

/** Fills and submits the Sign-in page. Resolves once the form is submitted. */
export async function submitOidcLogin(page: Page, options: OidcLoginOptions = {}): Promise<void> {
  const timeout = options.timeout ?? 15_000;
  const form = page.locator(LOGIN_FORM);
  await form.waitFor({ timeout });
  await form.locator('input[name="login"]').fill(options.login ?? "alice");
  await form.locator('input[name="password"]').fill(options.password ?? "password");
  await form.locator('button[type="submit"]').click({ timeout });
}

/** Waits for the consent ("Authorize") page and presses Continue. */
export async function submitOidcConsent(page: Page, options: Pick<OidcLoginOptions, "timeout"> = {}): Promise<void> {
  const timeout = options.timeout ?? 15_000;
  const form = page.locator(CONSENT_FORM);
  await form.waitFor({ timeout });
  await form.locator('button[type="submit"]').click({ timeout });
}

/**
 * Sign-in, then consent. Returns the landing URL when `callbackUrl` is given, otherwise `null`
 * right after the consent form is submitted.
 */
export async function completeOidcLogin(page: Page, options: OidcLoginOptions = {}): Promise<URL | null> {
  await submitOidcLogin(page, options);
  await submitOidcConsent(page, options);
  return finish(page, options);
}

/**
 * Sign-in, then press "[ Cancel ]" on the consent page: the provider redirects back with
 * `error=access_denied` (`error_description=End-User aborted interaction`).
 */
export async function cancelOidcConsent(page: Page, options: OidcLoginOptions = {}): Promise<URL | null> {
  const timeout = options.timeout ?? 15_000;
  await submitOidcLogin(page, options);
  await page.locator(CONSENT_FORM).waitFor({ timeout });
  await page.locator(CANCEL_LINK).click({ timeout });
  return finish(page, options);
}

/** Press "[ Cancel ]" on the Sign-in page itself (also `error=access_denied`). */
export async function cancelOidcLogin(page: Page, options: OidcLoginOptions = {}): Promise<URL | null> {
  const timeout = options.timeout ?? 15_000;
  await page.locator(LOGIN_FORM).waitFor({ timeout });
  await page.locator(CANCEL_LINK).click({ timeout });
  return finish(page, options);
}
