/**
 * OpenID Connect sign-in and what comes after it (refresh, userinfo, revoke, logout), against a real
 * server (oidc-provider with rotating refresh tokens, demo/oidc/server.ts) in real Chromium, Firefox
 * and WebKit (test/support/engine.ts), on loopback. The page test/e2e/pages/session.html drives the
 * library through `window.session`.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import type { OidcServer } from "../../demo/oidc/server.ts";
import { startDemo, type DemoServers } from "../support/demo-server.ts";
import { forEachEngine, inOneEngine, type EngineContext, type EnginePage } from "../support/engine.ts";
import { completeOidcLogin, submitOidcLogin } from "../support/oidc-login.ts";
import type { Outcome, RecipeStorage, SessionApi, SessionConfig, Timed } from "./pages/session.ts";

const SESSION_PATH = "/test/e2e/pages/session.html";
const DEMO_PATH = "/demo/oauth2.html";
const LOGIN_FORM = 'form:has(input[name="prompt"][value="login"])';

let servers: DemoServers & { oidc: OidcServer };
let issuer: string;
let clientId: string;

beforeAll(async () => {
  servers = await startDemo({ oidc: true, oidcCallbackPaths: [DEMO_PATH, SESSION_PATH], oidcOptions: { refreshTokens: true } });
  ({ issuer, clientId } = servers.oidc);
});

afterAll(async () => {
  await servers?.close();
});

type RefreshOutcome = Awaited<ReturnType<SessionApi["refresh"]>>;
type RecipeRefreshOutcome = Awaited<ReturnType<SessionApi["recipeRefresh"]>>;

const config = (extra: Partial<SessionConfig> = {}): SessionConfig => ({ issuer, clientId, ...extra });
const onSession = (withCode = true) => (url: URL) => url.origin === servers.app && url.pathname === SESSION_PATH && (!withCode || url.searchParams.has("code"));
const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
const tail = (token: string | null | undefined) => (token ?? "").slice(-4);
/** "ok", or the error's code and OAuth error ("token_error invalid_grant"). */
const verdict = (outcome: Outcome<unknown>) => (outcome.ok ? "ok" : `${outcome.error.code} ${outcome.error.error}`);

/** What the server's token endpoint says to a refresh with `token`, sent from Node (not the page). */
async function refreshFromNode(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token, client_id: clientId }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A token endpoint in front of the real one that rewrites the ID token's claims (signature left as is). */
async function tokenProxy(mutate: (claims: Record<string, unknown>) => Record<string, unknown>): Promise<{ url: string; server: Server }> {
  const upstream = `${issuer}/token`;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const name of ["content-type", "origin", "accept"]) if (req.headers[name]) headers[name] = String(req.headers[name]);
    const response = await fetch(upstream, { method: req.method ?? "GET", headers, ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}) });
    let text = await response.text();
    if (response.ok) {
      const body = JSON.parse(text) as Record<string, string>;
      const [header, claims, signature] = body["id_token"]!.split(".");
      body["id_token"] = [header, Buffer.from(JSON.stringify(mutate(payload(`.${claims}.`)))).toString("base64url"), signature].join(".");
      text = JSON.stringify(body);
    }
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name.startsWith("access-control-") || name === "content-type" || name === "vary") out[name] = value;
    });
    res.writeHead(response.status, out).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, server };
}

// No browser in this one: once, outside the engines.
describe("the README's Sessions recipe (test/e2e/pages/session-recipe.ts)", () => {
  it("is the code the README shows, but for the import", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const recipe = readFileSync(new URL("./pages/session-recipe.ts", import.meta.url), "utf8");
    const block = /^## Sessions\n[\s\S]*?```ts\n([\s\S]*?)```/m.exec(readme)?.[1];
    expect(block).toBe(recipe.replace('from "../../../src/index.ts"', 'from "pkce-flow"'));
  });
});

forEachEngine((engine) => {
  let context: EngineContext;
  let page: EnginePage;

  beforeEach(async () => {
    // One context per test; a second tab of it (`context.newPage()`) shares its cookies and localStorage.
    context = await engine.newContext();
    page = await context.newPage();
  });

  async function openSession(p: EnginePage = page): Promise<void> {
    await p.goto(`${servers.app}${SESSION_PATH}`);
    await p.waitForFunction(() => document.documentElement.dataset["session"] === "ready");
  }

  /**
   * Begins a sign-in on the session page, goes through the server's pages (`login`: sign in and
   * consent; `none`: the server's session answers at once; `password`: the login form only) and
   * finishes it. Returns the authorization URL and the page's outcome.
   */
  async function signIn(steps: "login" | "none" | "password" = "login", extra: Partial<SessionConfig> = {}, p: EnginePage = page) {
    const href = await toCallback(steps, extra, p);
    const finished = await p.evaluate(() => window.session.finish());
    return { authorization: href, finished };
  }

  /** The sign-in up to the callback page (not finished yet); returns the authorization URL. */
  async function toCallback(steps: "login" | "none" | "password" = "login", extra: Partial<SessionConfig> = {}, p: EnginePage = page): Promise<URL> {
    await openSession(p);
    const href = new URL(await p.evaluate((c) => window.session.begin(c), config(extra)));
    await p.goto(href.href);
    if (steps === "login") await completeOidcLogin(p, { login: "alice" });
    if (steps === "password") await submitOidcLogin(p, { login: "alice" });
    await p.waitForURL(onSession());
    await p.waitForFunction(() => document.documentElement.dataset["session"] === "ready");
    return href;
  }

  /** Signs in and hands the result to the README recipe's session kept in `kind`. */
  async function signInToRecipe(kind: RecipeStorage, early?: number) {
    await toCallback();
    // An object, not an array: a missing `early` must stay missing through WebDriver's JSON.
    const finished = await page.evaluate(({ kind, early }) => window.session.recipeFinish(kind, early), { kind, ...(early === undefined ? {} : { early }) });
    if (!finished.ok || !finished.value) throw new Error(`recipe sign-in failed: ${JSON.stringify(finished)}`);
    return finished.value;
  }

  /**
   * Runs `action` in every tab at the same moment (armed in each, then started by one message that
   * reaches them all: WebDriver sends one command at a time, so two `evaluate`s would not overlap)
   * and proves they did overlap: each started before the other ended.
   */
  async function atOnce<T>(tabs: EnginePage[], action: "refresh" | "unlocked" | "recipeRefresh", token?: string): Promise<T[]> {
    for (const tab of tabs) await tab.evaluate(({ action, token }) => window.session.arm(action, token), { action, ...(token === undefined ? {} : { token }) });
    await tabs[0]!.evaluate(() => window.session.go());
    const runs = (await Promise.all(tabs.map((tab) => tab.evaluate(() => window.session.armed())))) as Timed<T>[];
    expect(Math.max(...runs.map((r) => r.started))).toBeLessThan(Math.min(...runs.map((r) => r.ended)));
    return runs.map((r) => r.outcome);
  }

  describe("OpenID Connect sign-in", () => {
    it("sends a nonce, checks the ID token's claims against it and gives them, frozen", async () => {
      const { authorization, finished } = await signIn();
      const nonce = authorization.searchParams.get("nonce");
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(finished.ok).toBe(true);
      if (!finished.ok || !finished.value) throw new Error("no result");
      const { stored, hasClaims, frozen } = finished.value;
      expect(hasClaims).toBe(true);
      expect(frozen).toBe(true);
      expect(stored.claims).toMatchObject({ iss: issuer, aud: clientId, sub: "alice", nonce });
      // The claims are the ID token's own.
      expect(payload(stored.idToken!)).toEqual(stored.claims);
      expect(stored.expiresAt).toBeGreaterThan(Date.now());
    });

    inOneEngine(engine, "the ID token checks and request params are the library's and the server's, not the browser's", () => {
      it.each<[string, (claims: Record<string, unknown>) => Record<string, unknown>]>([
        ["another nonce", (claims) => ({ ...claims, nonce: "a-nonce-from-another-sign-in" })],
        ["another audience", (claims) => ({ ...claims, aud: "another-client" })],
      ])("refuses a token response whose ID token carries %s with invalid_id_token, keeping nothing", async (_, mutate) => {
        const proxy = await tokenProxy(mutate);
        try {
          const { finished } = await signIn("login", { tokenEndpoint: proxy.url });
          expect(finished).toEqual({ ok: false, error: expect.objectContaining({ name: "PkceError", code: "invalid_id_token" }) });
          expect(await page.evaluate(() => window.session.stored())).toBeNull();
          if (!finished.ok) expect(finished.error.message).not.toMatch(/eyJ/);
        } finally {
          proxy.server.close();
        }
      });

      it("sends prompt=login and login_hint from per-request params: the server asks for the password again, prefilled", async () => {
        await signIn();
        // Control: with the server's session, a plain sign-in comes straight back.
        expect((await signIn("none")).finished.ok).toBe(true);

        await openSession();
        const href = new URL(await page.evaluate((c) => window.session.begin(c), config({ params: { prompt: "login", login_hint: "carol" } })));
        expect(href.searchParams.get("prompt")).toBe("login");
        expect(href.searchParams.get("login_hint")).toBe("carol");
        await page.goto(href.href);
        const login = `${LOGIN_FORM} input[name="login"]`;
        await page.waitForSelector(login);
        expect(await page.evaluate((selector) => document.querySelector<HTMLInputElement>(selector)!.value, login)).toBe("carol");
      });
    });
  });

  describe("after sign-in", () => {
    inOneEngine(engine, "what the server answers to these calls does not depend on the browser", () => {
      it("userinfo answers for the signed-in user; after revoke the access token stops working there", async () => {
        const { finished } = await signIn();
        expect(finished.ok).toBe(true);
        const before = await page.evaluate(() => window.session.userinfo());
        expect(before).toEqual({ ok: true, value: { sub: "alice", name: "alice", email: "alice@example.test" } });

        const accessToken = (await page.evaluate(() => window.session.stored()))!.accessToken;
        // Serialized in the page: WebDriver turns a property that is undefined into null, JSON.stringify drops it.
        expect(await page.evaluate(async (t) => JSON.stringify(await window.session.revoke(t, "access_token")), accessToken)).toBe('{"ok":true}');
        const after = await page.evaluate(() => window.session.userinfo());
        expect(after).toEqual({ ok: false, error: expect.objectContaining({ name: "TokenError", code: "token_error", status: 401 }) });
        if (!after.ok) {
          expect(after.error.message).toMatch(/^userinfo endpoint: HTTP 401/);
          expect(after.error.message).not.toContain(accessToken);
        }
      });
    });

    it("refreshes with rotation: a new refresh token, and the server refuses the old one afterwards", async () => {
      await signIn();
      const first = (await page.evaluate(() => window.session.stored()))!;
      const refreshed = await page.evaluate(() => window.session.refresh());
      expect(refreshed.ok).toBe(true);
      if (!refreshed.ok) return;
      expect(refreshed.value.sent).toBe(first.refreshToken);
      const second = refreshed.value.stored;
      expect(second.refreshToken).toBeTruthy();
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(tail(second.refreshToken)).not.toBe(tail(first.refreshToken));
      // The refreshed ID token was checked (same sub) and replaced the claims.
      expect(second.claims).toMatchObject({ sub: "alice", iss: issuer });
      expect((await page.evaluate(() => window.session.userinfo())).ok).toBe(true);

      // The spent token is refused...
      const reuse = await refreshFromNode(first.refreshToken!);
      expect(reuse).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
      // ...and, as many servers do (README "Sessions"), reusing it revoked the whole grant.
      expect(await refreshFromNode(second.refreshToken!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    });

    it("two tabs sharing token storage refresh at once: one at a time under the lock, both end with working tokens", async () => {
      await signIn();
      const other = await context.newPage();
      await openSession(other);
      const start = (await page.evaluate(() => window.session.stored()))!;
      const [a, b] = await atOnce<RefreshOutcome>([page, other], "refresh");
      // On failure, say which token each tab sent (their last characters): a tab that sent the
      // token the other had already spent read storage before the other tab's write reached it.
      const sentTails = `first token …${tail(start.refreshToken)}; sent …${tail(await page.evaluate(() => window.session.lastSent()))} and …${tail(await other.evaluate(() => window.session.lastSent()))}`;
      expect([a!, b!].map(verdict), sentTails).toEqual(["ok", "ok"]);
      if (!a!.ok || !b!.ok) return;
      // One tab sent the first token; the other waited and sent the token the first one saved.
      const sent = [a.value.sent, b.value.sent];
      expect(sent).toContain(start.refreshToken);
      expect(new Set(sent).size).toBe(2);
      const [firstDone, secondDone] = a.value.sent === start.refreshToken ? [a, b] : [b, a];
      expect(secondDone.value.sent).toBe(firstDone.value.stored.refreshToken);
      // Both tabs' access tokens work, and the stored refresh token is the live one.
      for (const token of [a.value.stored.accessToken, b.value.stored.accessToken]) {
        expect(await page.evaluate((t) => window.session.userinfo(t), token)).toMatchObject({ ok: true, value: { sub: "alice" } });
      }
      // Each tab reads localStorage through its own copy, which may hear of the other tab's last
      // write a moment later: both copies come to hold the live token.
      for (const tab of [page, other]) {
        await expect.poll(async () => (await tab.evaluate(() => window.session.stored()))?.refreshToken, { timeout: 5_000 }).toBe(secondDone.value.stored.refreshToken);
      }
      expect((await refreshFromNode(secondDone.value.stored.refreshToken!)).status).toBe(200);
    });

    inOneEngine(engine, "what the server answers to these calls does not depend on the browser", () => {
      it("control: without the lock, two tabs spend the same rotating token and one is refused", async () => {
        await signIn();
        const other = await context.newPage();
        await openSession(other);
        // Each tab read the token before either refreshed (as tabs that loaded it earlier do).
        const token = (await page.evaluate(() => window.session.stored()))!.refreshToken!;
        const [a, b] = await atOnce<RefreshOutcome>([page, other], "unlocked", token);
        const outcomes = [a!, b!].map(verdict).sort();
        expect(outcomes).toContain("token_error invalid_grant");
      });

      it("logoutUrl ends the server session: the next sign-in asks for the password again", async () => {
        await signIn();
        const hint = (await page.evaluate(() => window.session.stored()))!.idToken!;
        // Control: before logout the server's session signs the user in without a password.
        expect((await signIn("none")).finished.ok).toBe(true);

        const url = new URL(await page.evaluate(() => window.session.logoutUrl()));
        expect(url.href.startsWith(`${issuer}/session/end?`)).toBe(true);
        expect(Object.fromEntries(url.searchParams)).toEqual({
          client_id: clientId,
          id_token_hint: (await page.evaluate(() => window.session.stored()))!.idToken,
          post_logout_redirect_uri: `${servers.app}${SESSION_PATH}`,
          state: "bye",
        });
        expect(hint).toBeTruthy();
        await page.goto(url.href);
        await page.click('button[name="logout"][value="yes"]');
        await page.waitForURL((u) => onSession(false)(u) && u.searchParams.get("state") === "bye");
        await page.waitForFunction(() => document.documentElement.dataset["session"] === "ready");
        // Tokens bound to the ended session stop working too.
        expect(await page.evaluate(() => window.session.userinfo())).toMatchObject({ ok: false, error: { status: 401 } });

        await openSession();
        const href = await page.evaluate((c) => window.session.begin(c), config());
        await page.goto(href);
        await page.waitForSelector(LOGIN_FORM);
        expect((await page.url()).startsWith(`${issuer}/interaction/`)).toBe(true);
      });
    });
  });

  describe("the demo page (demo/oauth2.html): the whole session lifecycle", () => {
    it("shows checked claims, userinfo and a countdown; refreshes with a rotated token; revokes; signs out at the server", async () => {
      const demo = `${servers.app}${DEMO_PATH}`;
      // Every access and refresh token the server issues (opaque: the value is the jti), to prove the
      // page never shows one whole; ID tokens are recognised by their JOSE header ("eyJ").
      const issued: string[] = [];
      type Emitter = { on(event: string, listener: (token: { jti: string }) => void): void; off(event: string, listener: (token: { jti: string }) => void): void };
      const server = servers.oidc.provider as Emitter;
      const record = (token: { jti: string }) => void issued.push(token.jti);
      for (const event of ["access_token.saved", "refresh_token.saved"]) server.on(event, record);
      onTestFinished(() => {
        for (const event of ["access_token.saved", "refresh_token.saved"]) server.off(event, record);
      });
      const noWholeToken = async () => {
        const text = await page.content();
        expect(text).not.toContain("eyJ");
        for (const token of issued) expect(text).not.toContain(token);
      };
      await page.goto(demo);
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`)), page.click("#connect")]);
      await completeOidcLogin(page, { login: "alice" });
      await page.waitForSelector('#status[data-status="authorized"]');
      await page.waitForSelector('#userinfo[data-state="ok"]');

      const claims = JSON.parse((await page.textContent("#claims"))!) as Record<string, unknown>;
      expect(claims).toMatchObject({ iss: issuer, aud: clientId, sub: "alice", nonce: expect.any(String) });
      expect(JSON.parse((await page.textContent("#userinfo"))!)).toEqual({ sub: "alice", name: "alice", email: "alice@example.test" });
      // The countdown ticks down from the token's lifetime (600 s on this server).
      const seconds = Number(await page.getAttribute("#countdown", "data-seconds"));
      expect(seconds).toBeGreaterThan(500);
      expect(seconds).toBeLessThanOrEqual(600);
      await page.waitForFunction((s) => Number(document.getElementById("countdown")!.dataset["seconds"]) < s, seconds);

      // Refresh now: the refresh token rotated (only its last characters are shown).
      const before = await page.textContent("#refresh-token");
      expect(before).toMatch(/^….{4}$/);
      await page.click("#refresh");
      await page.waitForFunction(() => document.getElementById("rotated")!.textContent!.startsWith("(rotated"));
      const after = await page.textContent("#refresh-token");
      expect(after).not.toBe(before);
      expect(await page.textContent("#rotated")).toBe(`(rotated: was ${before})`);
      expect(await page.textContent("#error")).toBe("");
      expect(issued).toHaveLength(4); // sign-in and refresh: an access and a refresh token each
      // The recorded values are the real tokens: the page's masked ones are cut from them.
      expect(issued.map((t) => `${t.slice(0, 12)}…${t.slice(-4)}`)).toContain(await page.textContent("#access-token"));
      expect(issued.map((t) => `…${t.slice(-4)}`)).toContain(after);
      await noWholeToken();

      // Revoke: the access token stops working at the userinfo endpoint.
      await page.click("#revoke");
      await page.waitForSelector('#userinfo[data-state="error"]');
      expect(await page.textContent("#userinfo")).toMatch(/^token_error: userinfo endpoint: HTTP 401/);

      // Sign out through the end-session endpoint, and back.
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${issuer}/session/end`)), page.click("#signout")]);
      await page.click('button[name="logout"][value="yes"]');
      await page.waitForSelector("#signed-out:not([hidden])");
      expect(await page.url()).toBe(demo);
      // The server's session is gone: signing in asks for the password again.
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`)), page.click("#connect")]);
      await page.waitForSelector(LOGIN_FORM);
    });
  });

  inOneEngine(engine, "the recipe's own logic (the cross-tab lock it relies on runs in every engine above)", () => {
    describe("the README's Sessions recipe (test/e2e/pages/session-recipe.ts)", () => {
      it("keeps tokens in memory by default: nothing in storage, and a reload forgets them", async () => {
        const tokens = await signInToRecipe("memory");
        expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), claims: { sub: "alice" } });
        expect(tokens).not.toHaveProperty("raw");
        const stored = await page.evaluate(() => [Object.keys(localStorage), Object.keys(sessionStorage)].flat().filter((k) => k === "session"));
        expect(stored).toEqual([]);
        await page.reload();
        await page.waitForFunction(() => document.documentElement.dataset["session"] === "ready");
        expect(await page.evaluate(() => window.session.recipeOpen("memory"))).toEqual({ ok: true, value: null });
      });

      it("refreshes on its own before expiresAt, with rotation, keeping the claims", async () => {
        // `early` of 599.5 s on a 600 s token: the refresh is due half a second after sign-in.
        const first = await signInToRecipe("sessionStorage", 599_500);
        await page.waitForFunction((rt) => window.session.recipeTokens()?.refreshToken !== rt, first.refreshToken);
        const next = (await page.evaluate(() => window.session.recipeTokens()))!;
        expect(next.accessToken).not.toBe(first.accessToken);
        expect(next.claims).toMatchObject({ sub: "alice" });
        expect(JSON.parse((await page.evaluate(() => sessionStorage.getItem("session")))!)).toMatchObject({ refreshToken: next.refreshToken });
        expect((await refreshFromNode(first.refreshToken!)).status).toBe(400);
      });

      it("shares localStorage between tabs: both refresh at once and end with the same live tokens", async () => {
        await signInToRecipe("localStorage");
        const other = await context.newPage();
        await openSession(other);
        expect(await other.evaluate(() => window.session.recipeOpen("localStorage"))).toMatchObject({ ok: true, value: { claims: { sub: "alice" } } });
        const [a, b] = await atOnce<RecipeRefreshOutcome>([page, other], "recipeRefresh");
        expect([a!, b!].map(verdict)).toEqual(["ok", "ok"]);
        // Each tab reads localStorage through its own copy, which hears of the other tab's last
        // write a moment later (Chromium under load): wait until both copies agree, then compare.
        const both = () => Promise.all([page, other].map((tab) => tab.evaluate(() => window.session.recipeTokens())));
        await expect.poll(async () => new Set((await both()).map((t) => t?.refreshToken)).size, { timeout: 5_000 }).toBe(1);
        const [mine, theirs] = await both();
        expect(mine).toEqual(theirs);
        expect((await page.evaluate((t) => window.session.userinfo(t), mine!.accessToken)).ok).toBe(true);
        expect((await refreshFromNode(mine!.refreshToken!)).status).toBe(200);
      });

      it("signs out: forgets the tokens, revokes the refresh token and ends the server session", async () => {
        const tokens = await signInToRecipe("localStorage");
        // The page navigates away while the sign-out is still answering, so it is started without
        // waiting; its outcome, if the page lived to see it, is kept in sessionStorage.
        await page.evaluate(() => window.session.recipeSignOutSoon());
        await page.waitForURL((u) => u.href.startsWith(`${issuer}/session/end`));
        expect(await refreshFromNode(tokens.refreshToken!)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
        await page.click('button[name="logout"][value="yes"]');
        await page.waitForURL(onSession(false));
        await page.waitForFunction(() => document.documentElement.dataset["session"] === "ready");
        const signedOut = await page.evaluate(() => sessionStorage.getItem("session:signed-out"));
        expect([null, true]).toContain(signedOut === null ? null : (JSON.parse(signedOut) as Outcome<void>).ok);
        expect(await page.evaluate(() => localStorage.getItem("session"))).toBeNull();
        await openSession();
        await page.goto(await page.evaluate((c) => window.session.begin(c), config()));
        await page.waitForSelector(LOGIN_FORM);
      });
    });
  });
});
