/**
 * The generic OAuth 2.0 / OpenID Connect path (`discover()`, `oauth2()`, `createFlow`) against a
 * real authorization server (oidc-provider, demo/oidc/server.ts) in real Chromium, Firefox and
 * WebKit, on loopback: the demo page demo/oauth2.html, and the lab page test/e2e/pages/lab.html for
 * the low-level API. What was sent to the server (request bodies included) is read from the
 * server's own log (test/support/oidc-log.ts), which every engine can be checked against.
 */
import { createHash } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DiscoveryDocument, OidcServer } from "../../demo/oidc/server.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, inOneEngine, playwrightPage, type EnginePage } from "../support/engine.ts";
import { recordOidc, type OidcLog } from "../support/oidc-log.ts";
import { cancelOidcConsent, completeOidcLogin, signInWithoutBrowser } from "../support/oidc-login.ts";
import type { LabError, LabScenario } from "./pages/lab.ts";

let servers: DemoServers & { oidc: OidcServer };
let oidcLog: OidcLog;
let page: EnginePage;
let discovery: DiscoveryDocument;
let issuer: string;
let clientId: string;
let tokenEndpoint: string;
let authorizationEndpoint: string;
/**
 * Every request the browser sent to the token endpoint, preflights included were there any
 * (Playwright engines: WebDriver classic sees no requests, `null` there; the server's log
 * `oidcLog.tokenRequests` holds what reached the token endpoint in every engine).
 */
let browserTokenRequests: string[] | null;

const DEMO_PATH = "/demo/oauth2.html";
const LAB_PATH = "/test/e2e/pages/lab.html";

beforeAll(async () => {
  servers = await startDemo({ oidc: true });
  oidcLog = recordOidc(servers.oidc);
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
  await servers?.close();
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
  expect(oidcLog.tokenRequests).toHaveLength(0);
  if (browserTokenRequests) expect(browserTokenRequests).toHaveLength(0);
  expect(finished.status).toBe("failed");
  expect(finished.pkceKeys).toEqual([]);
}

function expectNoSecrets(error: LabError, ...secrets: string[]) {
  for (const secret of secrets) {
    expect(error.message).not.toContain(secret);
    expect(error.errorDescription ?? "").not.toContain(secret);
  }
}

forEachEngine((engine) => {
  beforeEach(async (test) => {
    servers.oidc.setMutateDiscovery(undefined);
    oidcLog.reset();
    page = await engine.newPage();
    browserTokenRequests = null;
    if (engine.name !== "webkit") {
      const requests: string[] = (browserTokenRequests = []);
      playwrightPage(page).on("request", (request) => {
        if (request.url().split("?")[0] === tokenEndpoint) requests.push(`${request.method()} ${request.url()}`);
      });
    }
    test.onTestFinished(() => servers.oidc.setMutateDiscovery(undefined));
  });

  describe("the demo page (demo/oauth2.html) against oidc-provider", () => {
    it("discovers, signs in through the server's login and consent pages and exchanges the code with the right verifier", async () => {
      await page.goto(`${servers.app}${DEMO_PATH}`);
      // The page's module writes the issuer once it runs (after the load event in some engines).
      await page.waitForFunction(() => document.querySelector("#issuer")?.textContent !== "");
      expect(await page.textContent("#issuer")).toBe(issuer);
      // The button is enabled once discovery is done (click waits for it).
      await Promise.all([page.waitForURL(atInteraction), page.click("#connect")]);

      // The URL the browser came back with (the page then cleans its address bar).
      const landed = (await completeOidcLogin(page, { login: "alice", callbackUrl: onApp(DEMO_PATH, (url) => url.search !== "") }))!;
      await page.waitForSelector('#status[data-status="authorized"]');

      // The authorization request: S256 challenge, state, exact redirect URI (as the server received it).
      expect(oidcLog.authorizations).toHaveLength(1);
      const auth = oidcLog.authorizations[0]!.params;
      expect(auth["response_type"]).toBe("code");
      expect(auth["client_id"]).toBe(clientId);
      expect(auth["redirect_uri"]).toBe(`${servers.app}${DEMO_PATH}`);
      expect(auth["scope"]).toBe("openid profile email");
      expect(auth["code_challenge_method"]).toBe("S256");
      expect(auth["code_challenge"]).toMatch(/^[A-Za-z0-9_-]{43}$/);

      // The real callback carried code, the same state and RFC 9207 iss: what the server sent is
      // what the browser arrived with.
      const sentBack = oidcLog.authorizations[0]!.response;
      expect(sentBack["code"]).toBeTruthy();
      expect(sentBack["state"]).toBe(auth["state"]);
      expect(sentBack["iss"]).toBe(issuer);
      expect(Object.fromEntries(landed.searchParams)).toEqual({ code: sentBack["code"], state: auth["state"], iss: issuer });

      // One token request, with the verifier belonging to the challenge; the server accepted it.
      expect(oidcLog.tokenRequests).toHaveLength(1);
      if (browserTokenRequests) expect(browserTokenRequests).toEqual([`POST ${tokenEndpoint}`]);
      const sent = oidcLog.tokenRequests[0]!.params;
      expect(sent).toEqual({
        grant_type: "authorization_code",
        code: sentBack["code"],
        redirect_uri: `${servers.app}${DEMO_PATH}`,
        client_id: clientId,
        code_verifier: expect.stringMatching(/^[A-Za-z0-9._~-]{43,128}$/),
      });
      expect(s256(sent["code_verifier"]!)).toBe(auth["code_challenge"]);
      expect(oidcLog.tokenRequests[0]!.status).toBe(200);
      const tokens = oidcLog.tokenRequests[0]!.body;
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
      expect(await page.url()).toBe(`${servers.app}${DEMO_PATH}`);
      expect(await pkceKeys()).toEqual([]);

      // Reload and Back after the sign-in: no second token request, no transaction, no error.
      await page.reload();
      await page.waitForSelector("#status[data-status]", { state: "attached" });
      // Leave only once discovery has finished (#connect is enabled then): a fetch cut off by the
      // navigation would otherwise show network_error on a page WebKit restores from its cache.
      await page.waitForFunction(() => !(document.getElementById("connect") as HTMLButtonElement).disabled);
      await page.goto(`${servers.app}${LAB_PATH}`);
      await page.goBack();
      await page.waitForURL(`${servers.app}${DEMO_PATH}`);
      await page.waitForFunction(() => document.readyState === "complete");
      expect(await page.textContent("#error")).toBe("");
      expect(await pkceKeys()).toEqual([]);
      expect(oidcLog.tokenRequests).toHaveLength(1);
    });

    it("shows authorization_error (access_denied) when the user cancels at consent", async () => {
      await page.goto(`${servers.app}${DEMO_PATH}`);
      await Promise.all([page.waitForURL(atInteraction), page.click("#connect")]);

      const landed = (await cancelOidcConsent(page, { login: "alice", callbackUrl: onApp(DEMO_PATH, (url) => url.search !== "") }))!;
      await page.waitForSelector('#status[data-status="failed"]');

      // One authorization, answered with access_denied, and the browser came back with it and iss.
      expect(oidcLog.authorizations).toEqual([expect.objectContaining({ response: { error: "access_denied" } })]);
      expect(landed.searchParams.get("error")).toBe("access_denied");
      expect(landed.searchParams.get("iss")).toBe(issuer);
      expect(await page.getAttribute("#error", "data-code")).toBe("authorization_error");
      expect(await page.textContent("#error")).toContain("access_denied");
      expect(await page.isHidden("#result")).toBe(true);
      expect(await pkceKeys()).toEqual([]);
      expect(await page.url()).toBe(`${servers.app}${DEMO_PATH}`);
      expect(oidcLog.tokenRequests).toHaveLength(0);
      if (browserTokenRequests) expect(browserTokenRequests).toHaveLength(0);
    });
  });

  inOneEngine(engine, "the verifier, issuer and discovery checks are the library's and the server's answers, not the browser's", () => {
    describe("the low-level API (lab page) against oidc-provider", () => {
      it("refuses a wrong code verifier: the server answers 400 invalid_grant, surfaced as TokenError", async () => {
        const callback = await signInOnLab(discoverScenario());
        expect(callback.searchParams.get("iss")).toBe(issuer);
        const code = callback.searchParams.get("code")!;

        const finished = await page.evaluate(() => window.lab.finish({ tamperVerifier: true, expect: "token_error" }));

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
        expect(oidcLog.tokenRequests).toHaveLength(1);
        if (browserTokenRequests) expect(browserTokenRequests).toEqual([`POST ${tokenEndpoint}`]);
        const sent = oidcLog.tokenRequests[0]!.params;
        expect(sent["code"]).toBe(code);
        expect(sent["code_verifier"]).toBe(finished.tamperedVerifier);
        expect(oidcLog.tokenRequests[0]!.status).toBe(400);
        expect(oidcLog.tokenRequests[0]!.body).toMatchObject({ error: "invalid_grant" });

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
        // No engine can be asked to rewrite a redirect the same way (WebDriver classic has no
        // interception), so the flow starts in the browser (its transaction in sessionStorage), the
        // server's Sign-in and Authorize pages are answered from here with a cookie jar of our own,
        // and the browser is sent to the callback the server gave, without its `iss`.
        await openLab();
        const href = await page.evaluate((s) => window.lab.begin(s), discoverScenario());
        expect(href.startsWith(`${authorizationEndpoint}?`)).toBe(true);
        const given = await signInWithoutBrowser(href, { login: "alice" });
        expect(onApp(LAB_PATH)(given)).toBe(true);
        expect(given.searchParams.get("iss")).toBe(issuer); // the server did send iss; the browser never sees it
        const callback = new URL(given);
        callback.searchParams.delete("iss");
        // discover() reads authorization_response_iss_parameter_supported: this provider requires iss.
        await page.goto(callback.href);
        await page.waitForFunction(() => document.documentElement.dataset["lab"] === "ready");
        expect(new URL(await page.url()).searchParams.has("iss")).toBe(false);
        expect(new URL(await page.url()).searchParams.get("state")).toBeTruthy();

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
  });
});
