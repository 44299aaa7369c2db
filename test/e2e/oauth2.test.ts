/**
 * The generic OAuth 2.0 / OpenID Connect path (`discover()`, `oauth2()`, `createFlow`) against a
 * real authorization server (oidc-provider, demo/oidc/server.ts) in real Chromium, on loopback:
 * the demo page demo/oauth2.html, and the lab page test/e2e/pages/lab.html for the low-level API.
 */
import { createHash } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DiscoveryDocument, OidcServer } from "../../demo/oidc/server.ts";
import { launchChromium } from "../support/browser.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { cancelOidcConsent, completeOidcLogin } from "../support/oidc-login.ts";
import type { LabError, LabScenario } from "./pages/lab.ts";

let servers: DemoServers & { oidc: OidcServer };
let browser: Browser;
let context: BrowserContext;
let page: Page;
let discovery: DiscoveryDocument;
let issuer: string;
let clientId: string;
let tokenEndpoint: string;
let authorizationEndpoint: string;
/** Every request the page sent to the token endpoint (preflights included, were there any). */
let tokenRequests: Request[];

const DEMO_PATH = "/demo/oauth2.html";
const LAB_PATH = "/test/e2e/pages/lab.html";

beforeAll(async () => {
  [servers, browser] = await Promise.all([startDemo({ oidc: true }), launchChromium()]);
  ({ issuer, clientId } = servers.oidc);
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  discovery = (await response.json()) as DiscoveryDocument;
  tokenEndpoint = discovery["token_endpoint"] as string;
  authorizationEndpoint = discovery["authorization_endpoint"] as string;
  expect(tokenEndpoint).toBe(`${issuer}/token`);
  expect(authorizationEndpoint).toBe(`${issuer}/auth`);
});

afterAll(async () => {
  await browser?.close();
  await servers?.close();
});

beforeEach(async (test) => {
  servers.oidc.setMutateDiscovery(undefined);
  context = await browser.newContext();
  page = await context.newPage();
  tokenRequests = [];
  page.on("request", (request) => {
    if (request.url().split("?")[0] === tokenEndpoint) tokenRequests.push(request);
  });
  test.onTestFinished(async () => {
    servers.oidc.setMutateDiscovery(undefined);
    await context.close();
  });
});

const b64url = (bytes: Buffer) => bytes.toString("base64url");
const s256 = (verifier: string) => b64url(createHash("sha256").update(verifier, "ascii").digest());
const pkceKeys = () => page.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith("pkce-flow:")));
const onApp = (path: string, test: (url: URL) => boolean = () => true) => (url: URL) =>
  url.origin === servers.app && url.pathname === path && test(url);

/** The server's own login / consent pages (the authorization endpoint redirects there). */
const atInteraction = (url: URL) => url.href.startsWith(`${issuer}/interaction/`);

/** Opens the lab page and waits until `window.lab` is there. */
async function openLab(): Promise<void> {
  await page.goto(`${servers.app}${LAB_PATH}`);
  await page.waitForFunction(() => document.documentElement.dataset["lab"] === "ready");
}

/**
 * Starts `scenario` on the lab page, signs in as alice on the server's own pages and waits for the
 * callback (the lab page with a code). Returns the callback URL.
 */
async function signInOnLab(scenario: LabScenario): Promise<URL> {
  await openLab();
  const href = await page.evaluate((s) => window.lab.begin(s), scenario);
  expect(href.startsWith(`${authorizationEndpoint}?`)).toBe(true);
  await page.goto(href);
  const callback = (await completeOidcLogin(page, { login: "alice", callbackUrl: onApp(LAB_PATH, (url) => url.searchParams.has("code")) }))!;
  await page.waitForFunction(() => document.documentElement.dataset["lab"] === "ready");
  return callback;
}

const discoverScenario = (): LabScenario => ({ kind: "discover", issuer, clientId, scope: ["openid"] });

/**
 * Finishes the callback on the lab page expecting `code`, and checks that the flow failed before
 * any token request and left no transaction behind.
 */
async function expectRefusedBeforeTokenRequest(code: "issuer_mismatch" | "issuer_missing"): Promise<void> {
  const finished = await page.evaluate((c) => window.lab.finish({ expect: c }), code);
  expect(finished.outcome).toEqual({
    ok: false,
    error: expect.objectContaining({ name: "PkceError", code, matchesExpected: true }),
  });
  expect(finished.flowFetches).toEqual([]);
  expect(tokenRequests).toHaveLength(0);
  expect(finished.status).toBe("failed");
  expect(finished.pkceKeys).toEqual([]);
}

function expectNoSecrets(error: LabError, ...secrets: string[]) {
  for (const secret of secrets) {
    expect(error.message).not.toContain(secret);
    expect(error.errorDescription ?? "").not.toContain(secret);
  }
}

describe("the demo page (demo/oauth2.html) against oidc-provider", () => {
  it("discovers, signs in through the server's login and consent pages and exchanges the code with the right verifier", async () => {
    const authorizations: URL[] = [];
    const callbacks: URL[] = [];
    page.on("request", (request) => {
      if (!request.isNavigationRequest()) return;
      const url = new URL(request.url());
      if (url.href.startsWith(`${authorizationEndpoint}?`)) authorizations.push(url);
      if (onApp(DEMO_PATH)(url) && url.search) callbacks.push(url);
    });

    await page.goto(`${servers.app}${DEMO_PATH}`);
    expect(await page.textContent("#issuer")).toBe(issuer);
    // The button is enabled once discovery is done (click waits for it).
    await Promise.all([page.waitForURL(atInteraction), page.click("#connect")]);

    const tokenResponse = page.waitForResponse((r) => r.url() === tokenEndpoint && r.request().method() === "POST");
    await completeOidcLogin(page, { login: "alice" });
    const response = await tokenResponse;
    await page.waitForSelector('#status[data-status="authorized"]');

    // The authorization request: S256 challenge, state, exact redirect URI.
    expect(authorizations).toHaveLength(1);
    const auth = authorizations[0]!.searchParams;
    expect(auth.get("response_type")).toBe("code");
    expect(auth.get("client_id")).toBe(clientId);
    expect(auth.get("redirect_uri")).toBe(`${servers.app}${DEMO_PATH}`);
    expect(auth.get("scope")).toBe("openid profile email");
    expect(auth.get("code_challenge_method")).toBe("S256");
    expect(auth.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The real callback carried code, the same state and RFC 9207 iss.
    expect(callbacks).toHaveLength(1);
    const callback = callbacks[0]!.searchParams;
    expect(callback.get("code")).toBeTruthy();
    expect(callback.get("state")).toBe(auth.get("state"));
    expect(callback.get("iss")).toBe(issuer);

    // One token request, with the verifier belonging to the challenge; the server accepted it.
    expect(tokenRequests).toHaveLength(1);
    const sent = new URLSearchParams(tokenRequests[0]!.postData() ?? "");
    expect(Object.fromEntries(sent)).toEqual({
      grant_type: "authorization_code",
      code: callback.get("code"),
      redirect_uri: `${servers.app}${DEMO_PATH}`,
      client_id: clientId,
      code_verifier: expect.stringMatching(/^[A-Za-z0-9._~-]{43,128}$/),
    });
    expect(s256(sent.get("code_verifier")!)).toBe(auth.get("code_challenge"));
    expect(response.status()).toBe(200);
    const tokens = (await response.json()) as Record<string, unknown>;
    const accessToken = tokens["access_token"] as string;
    expect(accessToken.length).toBeGreaterThan(16);

    // The page: authorized, masked token, the ID token's claims.
    expect(await page.textContent("#error")).toBe("");
    expect(await page.isVisible("#result")).toBe(true);
    expect(await page.textContent("#access-token")).toBe(`${accessToken.slice(0, 12)}…${accessToken.slice(-4)}`);
    expect(await page.content()).not.toContain(accessToken);
    expect(await page.textContent("#token-type")).toBe("Bearer");
    const claims = JSON.parse((await page.textContent("#claims"))!) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: "alice", iss: issuer, aud: clientId });

    // Nothing left behind: address bar and sessionStorage.
    expect(page.url()).toBe(`${servers.app}${DEMO_PATH}`);
    expect(await pkceKeys()).toEqual([]);
  });

  it("shows authorization_error (access_denied) when the user cancels at consent", async () => {
    const callbacks: URL[] = [];
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (request.isNavigationRequest() && onApp(DEMO_PATH)(url) && url.search) callbacks.push(url);
    });
    await page.goto(`${servers.app}${DEMO_PATH}`);
    await Promise.all([page.waitForURL(atInteraction), page.click("#connect")]);

    await cancelOidcConsent(page, { login: "alice" });
    await page.waitForSelector('#status[data-status="failed"]');

    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.searchParams.get("error")).toBe("access_denied");
    expect(callbacks[0]!.searchParams.get("iss")).toBe(issuer);
    expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
    expect(await page.textContent("#error")).toContain("access_denied");
    expect(await page.isHidden("#result")).toBe(true);
    expect(await pkceKeys()).toEqual([]);
    expect(page.url()).toBe(`${servers.app}${DEMO_PATH}`);
    expect(tokenRequests).toHaveLength(0);
  });
});

describe("the low-level API (lab page) against oidc-provider", () => {
  it("refuses a wrong code verifier: the server answers 400 invalid_grant, surfaced as TokenError", async () => {
    const callback = await signInOnLab(discoverScenario());
    expect(callback.searchParams.get("iss")).toBe(issuer);
    const code = callback.searchParams.get("code")!;

    const tokenResponse = page.waitForResponse((r) => r.url() === tokenEndpoint && r.request().method() === "POST");
    const finished = await page.evaluate(() => window.lab.finish({ tamperVerifier: true, expect: "token_error" }));
    const response = await tokenResponse;

    expect(finished.outcome).toEqual({
      ok: false,
      error: expect.objectContaining({
        name: "TokenError",
        code: "token_error",
        isPkceError: true,
        matchesExpected: true,
        status: 400,
        error: "invalid_grant",
      }),
    });
    if (!finished.outcome.ok) expectNoSecrets(finished.outcome.error, code, finished.tamperedVerifier!);

    // The tampered verifier is what was sent (once), and it is not the one behind the challenge.
    expect(finished.flowFetches).toEqual([tokenEndpoint]);
    expect(tokenRequests).toHaveLength(1);
    const sent = new URLSearchParams(tokenRequests[0]!.postData() ?? "");
    expect(sent.get("code")).toBe(code);
    expect(sent.get("code_verifier")).toBe(finished.tamperedVerifier);
    expect(response.status()).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });

    expect(finished.status).toBe("failed");
    expect(finished.pkceKeys).toEqual([]);
    expect(finished.href).toBe(`${servers.app}${LAB_PATH}`);
  });

  it("fails with issuer_mismatch, before any token request, when the provider expects another issuer", async () => {
    const scenario: LabScenario = {
      kind: "oauth2",
      options: { clientId, issuer: "http://127.0.0.1:1/other", authorizationEndpoint, tokenEndpoint, scope: "openid" },
    };
    const callback = await signInOnLab(scenario);
    expect(callback.searchParams.get("iss")).toBe(issuer);

    await expectRefusedBeforeTokenRequest("issuer_mismatch");
  });

  it("fails with issuer_missing, before any token request, when the callback's iss is stripped", async () => {
    // Playwright routes only the first request of a redirect chain, and the callback is the last
    // hop of the chain the consent form starts (POST /interaction/:uid -> /auth/:uid -> callback).
    // So the consent POST is routed, the server's own redirects are followed with the context's
    // request API (same cookie jar), and the browser is sent to the callback without `iss`.
    const stripped: Array<string | null> = [];
    await page.route(
      atInteraction,
      async (route) => {
        const request = route.request();
        if (request.method() !== "POST" || new URLSearchParams(request.postData() ?? "").get("prompt") !== "consent") {
          return route.continue();
        }
        let response = await route.fetch({ maxRedirects: 0 });
        let location = new URL(response.headers()["location"] ?? "", request.url());
        for (let hop = 0; hop < 5 && location.origin === new URL(issuer).origin; hop++) {
          response = await context.request.get(location.href, { maxRedirects: 0 });
          location = new URL(response.headers()["location"] ?? "", location);
        }
        stripped.push(location.searchParams.get("iss"));
        location.searchParams.delete("iss");
        await route.fulfill({ status: 302, headers: { location: location.href } });
      },
    );
    // discover() reads authorization_response_iss_parameter_supported: this provider requires iss.
    const callback = await signInOnLab(discoverScenario());
    expect(stripped).toEqual([issuer]); // the server did send iss; the browser never saw it
    expect(callback.searchParams.has("iss")).toBe(false);
    expect(callback.searchParams.get("state")).toBeTruthy();

    await expectRefusedBeforeTokenRequest("issuer_missing");
  });

  it("discover() of this server gives requireIssuer true (authorization_response_iss_parameter_supported)", async () => {
    expect(discovery["authorization_response_iss_parameter_supported"]).toBe(true);
    await openLab();
    const found = await page.evaluate(([i, c]) => window.lab.discover(i, c), [issuer, clientId] as const);
    expect(found).toEqual({
      ok: true,
      value: {
        issuer,
        requireIssuer: true,
        codeChallengeMethod: "S256",
        authorizationUrl: expect.stringMatching(new RegExp(`^${authorizationEndpoint.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\?`)),
      },
    });

    // Control: without the metadata flag, requireIssuer follows it (false).
    servers.oidc.setMutateDiscovery(({ authorization_response_iss_parameter_supported: _, ...doc }) => doc);
    const without = await page.evaluate(([i, c]) => window.lab.discover(i, c), [issuer, clientId] as const);
    expect(without).toMatchObject({ ok: true, value: { issuer, requireIssuer: false } });
  });

  it("discover() rejects bad metadata with invalid_config and an unreachable issuer with network_error", async () => {
    await openLab();
    const run = (target = issuer, expected: "invalid_config" | "network_error" = "invalid_config") =>
      page.evaluate(([i, c, e]) => window.lab.discover(i, c, e), [target, clientId, expected] as const);

    // Control: the untouched document is accepted.
    expect(await run()).toMatchObject({ ok: true, value: { issuer } });

    const cases: Array<[string, (doc: DiscoveryDocument) => DiscoveryDocument, RegExp]> = [
      ["mismatched issuer", (doc) => ({ ...doc, issuer: `${issuer}/other` }), /issuer differs/],
      ["plain only", (doc) => ({ ...doc, code_challenge_methods_supported: ["plain"] }), /S256/],
      ["http token endpoint off loopback", (doc) => ({ ...doc, token_endpoint: "http://auth.example.test/token" }), /^tokenEndpoint must be/],
      ["http authorization endpoint off loopback", (doc) => ({ ...doc, authorization_endpoint: "http://auth.example.test/auth" }), /^authorizationEndpoint must be/],
    ];
    for (const [name, mutate, message] of cases) {
      servers.oidc.setMutateDiscovery(mutate);
      const result = await run();
      expect(result, name).toEqual({
        ok: false,
        error: expect.objectContaining({ name: "PkceError", code: "invalid_config", matchesExpected: true, message: expect.stringMatching(message) }),
      });
    }
    servers.oidc.setMutateDiscovery(undefined);

    // Unreachable: a loopback port nobody listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const unreachable = await run(`http://127.0.0.1:${port}`, "network_error");
    expect(unreachable).toEqual({
      ok: false,
      error: expect.objectContaining({ name: "PkceError", code: "network_error", matchesExpected: true }),
    });
  });
});
