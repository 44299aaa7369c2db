import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthorizationError, PkceError, TokenError, createCodeChallenge, createFlow, oauth2, openRouter } from "../../src/index.ts";
import type { AuthorizationParams, FlowOptions, FlowStatus, OAuth2Options, OAuth2Result, OpenRouterOptions, OpenRouterResult, Provider, StorageLike } from "../../src/index.ts";
import type { Transaction } from "../../src/storage.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, hang, json, text, type RecordedCall } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach, showInAddressBar } from "./helpers/page.ts";
import { errorSurfaces, leaked, recordConsole } from "./helpers/secrets.ts";
import { CorruptingStorage, DroppingStorage, FullStorage, MemoryStorage, blockSessionStorage, keysWithPrefix, throwingStorage } from "./helpers/storage.ts";

const PREFIX = "pkce-flow:";
const OPENROUTER = "https://openrouter.example";
const AS = "https://as.example";
const CODE = "Code-SENTINEL-4b9a2f7e";
const KEY = "sk-or-v1-KEY-SENTINEL-7d1e0c55";
const T0 = 1_900_000_000_000;

// Every secret a test has seen: the constants above plus each stored verifier and state. After each
// test, nothing the library wrote to the console may contain any of them.
const seen = new Map<string, string>([
  ["code", CODE],
  ["key", KEY],
]);
let consoleRecord: ReturnType<typeof recordConsole>;

restorePageAfterEach();
beforeEach(() => {
  consoleRecord = recordConsole();
});
afterEach(() => {
  const output = consoleRecord.text();
  consoleRecord.restore();
  vi.restoreAllMocks();
  vi.useRealTimers();
  expect(leaked([output], Object.fromEntries(seen))).toEqual([]);
});

/** The transactions under `prefix` in `storage`; their secrets join the watch list. */
function stored(storage: StorageLike = sessionStorage, prefix = PREFIX): Transaction[] {
  return keysWithPrefix(storage, prefix).map((key) => {
    const tx = JSON.parse(storage.getItem(key)!) as Transaction;
    seen.set(`verifier ${tx.state}`, tx.codeVerifier);
    seen.set(`state ${tx.state}`, tx.state);
    return tx;
  });
}

/** The secrets of one transaction, for leak checks. */
function secretsOf(tx: Transaction): Record<string, string> {
  return { code: CODE, key: KEY, verifier: tx.codeVerifier, state: tx.state };
}

/** Asserts that neither the error (message, cause, fields), the snapshot nor the console shows a secret of `tx`. */
function expectNoSecrets(error: unknown, flow: { snapshot(): unknown }, tx: Transaction): void {
  expect(leaked([...errorSurfaces(error), JSON.stringify(flow.snapshot()), consoleRecord.text()], secretsOf(tx))).toEqual([]);
}

function openRouterProvider(options: Partial<OpenRouterOptions> = {}): Provider<OpenRouterResult> {
  return openRouter({ callbackUrl: `${pageUrl()}?keep=1`, baseUrl: OPENROUTER, ...options });
}

function oauth2Provider(options: Partial<OAuth2Options> = {}): Provider<OAuth2Result> {
  return oauth2({
    clientId: "my-spa",
    authorizationEndpoint: `${AS}/authorize`,
    tokenEndpoint: `${AS}/token`,
    redirectUri: pageUrl(),
    scope: ["profile"],
    ...options,
  });
}

/** Where OpenRouter sends the user back: the callback_url it was given, plus `params`. */
function openRouterCallback(auth: URL, params = `code=${CODE}`): string {
  return `${auth.searchParams.get("callback_url")}&${params}#section`;
}

/** Where an RFC 6749 server sends the user back: the redirect URI plus `params` and state. */
function oauth2Callback(auth: URL, params = `code=${CODE}`): string {
  return `${auth.searchParams.get("redirect_uri")}?${params}&keep=1&state=${auth.searchParams.get("state")}#section`;
}

const OAUTH2_TOKENS = { access_token: KEY, token_type: "Bearer", expires_in: 3600, refresh_token: "rt-1", scope: "openid profile", id_token: "h.p.s" };

interface ProviderCase<R> {
  name: string;
  provider: () => Provider<R>;
  callback: (auth: URL, params?: string) => string;
  success: () => Response;
  result: () => R;
  tokenUrl: string;
  checkRequest: (call: RecordedCall, tx: Transaction, auth: URL) => Promise<void>;
}

const openRouterCase: ProviderCase<OpenRouterResult> = {
  name: "OpenRouter",
  provider: () => openRouterProvider(),
  callback: openRouterCallback,
  success: () => json(200, { key: KEY, user_id: "user_2yOP" }),
  result: () => ({ key: KEY, userId: "user_2yOP" }),
  tokenUrl: `${OPENROUTER}/api/v1/auth/keys`,
  async checkRequest(call, tx) {
    expect(call.request.headers.get("content-type")).toBe("application/json");
    expect(call.request.headers.has("authorization")).toBe(false);
    expect(JSON.parse(await call.body)).toEqual({ code: CODE, code_verifier: tx.codeVerifier, code_challenge_method: "S256" });
  },
};

const oauth2Case: ProviderCase<OAuth2Result> = {
  name: "oauth2",
  provider: () => oauth2Provider(),
  callback: oauth2Callback,
  success: () => json(200, OAUTH2_TOKENS),
  result: () => ({ accessToken: KEY, tokenType: "Bearer", expiresIn: 3600, expiresAt: expect.any(Number), refreshToken: "rt-1", scope: "openid profile", idToken: "h.p.s", raw: OAUTH2_TOKENS }),
  tokenUrl: `${AS}/token`,
  async checkRequest(call, tx, auth) {
    expect(call.request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(call.request.headers.has("authorization")).toBe(false);
    const body = await call.body;
    const expected = new URLSearchParams({
      grant_type: "authorization_code",
      code: CODE,
      redirect_uri: pageUrl(),
      client_id: "my-spa",
      code_verifier: tx.codeVerifier,
    });
    expect(body).toBe(expected.toString());
    expect(new URLSearchParams(body).get("redirect_uri")).toBe(auth.searchParams.get("redirect_uri"));
  },
};

const PROVIDERS = [openRouterCase, oauth2Case] as ProviderCase<unknown>[];

/** A flow with a fetch recorder that answers with the provider's success body unless told otherwise. */
function setup<R>(c: ProviderCase<R>, options: FlowOptions = {}, respond?: Parameters<typeof fetchRecorder>[0]) {
  const recorder = fetchRecorder(respond ?? (() => c.success()));
  const flow = createFlow(c.provider(), { fetch: recorder.fetch, ...options });
  const statuses: FlowStatus[] = [flow.status];
  flow.subscribe((snapshot) => statuses.push(snapshot.status));
  return { recorder, flow, statuses };
}

describe("authorize() and start()", () => {
  it("gives OpenRouter the S256 challenge of the stored verifier and the stored state inside callback_url", async () => {
    const { flow } = setup(openRouterCase);
    const auth = await flow.authorize();
    const [tx] = stored();
    expect(stored()).toHaveLength(1);
    expect(auth.origin + auth.pathname).toBe(`${OPENROUTER}/auth`);
    expect(auth.searchParams.get("code_challenge")).toBe(await createCodeChallenge(tx!.codeVerifier));
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    expect(auth.searchParams.get("callback_url")).toBe(`${pageUrl()}?keep=1&state=${tx!.state}`);
    expect(tx).toMatchObject({ codeChallengeMethod: "S256", provider: `openrouter ${OPENROUTER}`, issuer: null, returnTo: null, redirectUri: `${pageUrl()}?keep=1` });
    expect(sessionStorage.getItem(PREFIX + tx!.state)).not.toBeNull();
  });

  it("gives an oauth2 server the S256 challenge of the stored verifier and the stored state", async () => {
    const { flow } = setup({ ...oauth2Case, provider: () => oauth2Provider({ issuer: AS }) });
    const auth = await flow.authorize();
    const [tx] = stored();
    expect(auth.searchParams.get("code_challenge")).toBe(await createCodeChallenge(tx!.codeVerifier));
    expect(auth.searchParams.get("state")).toBe(tx!.state);
    expect(auth.searchParams.get("redirect_uri")).toBe(tx!.redirectUri);
    expect(tx).toMatchObject({ codeChallengeMethod: "S256", issuer: AS, returnTo: null });
  });

  it("stores a plain transaction when the OpenRouter preset asks for plain", async () => {
    const { flow } = setup({ ...openRouterCase, provider: () => openRouterProvider({ codeChallengeMethod: "plain" }) });
    const auth = await flow.authorize();
    const [tx] = stored();
    expect(auth.searchParams.get("code_challenge_method")).toBe("plain");
    expect(auth.searchParams.get("code_challenge")).toBe(tx!.codeVerifier);
    expect(tx!.codeChallengeMethod).toBe("plain");
  });

  it("makes a new verifier and state for every call", async () => {
    const { flow } = setup(oauth2Case);
    const a = await flow.authorize();
    const b = await flow.authorize();
    const txs = stored();
    expect(txs).toHaveLength(2);
    expect(new Set(txs.map((t) => t.codeVerifier)).size).toBe(2);
    expect(a.searchParams.get("state")).not.toBe(b.searchParams.get("state"));
  });

  it.each(PROVIDERS)("start() hands the $name authorization URL to navigate and sets redirecting", async (c) => {
    const navigate = vi.fn();
    const { flow, statuses } = setup(c, { navigate });
    await flow.start();
    expect(navigate).toHaveBeenCalledTimes(1);
    const target = new URL(navigate.mock.calls[0]![0] as string);
    expect(typeof navigate.mock.calls[0]![0]).toBe("string");
    const [tx] = stored();
    const state = c === openRouterCase ? new URL(target.searchParams.get("callback_url")!).searchParams.get("state") : target.searchParams.get("state");
    expect(state).toBe(tx!.state);
    expect(target.searchParams.get("code_challenge")).toBe(await createCodeChallenge(tx!.codeVerifier));
    expect(flow.status).toBe("redirecting");
    expect(statuses).toEqual(["idle", "redirecting"]);
  });

  it("touches no browser global when created", () => {
    const restore = blockSessionStorage();
    try {
      expect(() => createFlow(openRouterProvider())).not.toThrow();
    } finally {
      restore();
    }
  });
});

describe("handleCallback(): the round trip in one page", () => {
  it.each(PROVIDERS)("$name: one exact token request, the result, a clean address bar and storage", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    sessionStorage.setItem("theme", "dark");
    const auth = await flow.authorize();
    const [tx] = stored();
    showInAddressBar(c.callback(auth));
    expect(flow.isCallback()).toBe(true);

    const result = await flow.handleCallback();

    expect(result).toEqual(c.result());
    expect(recorder.calls).toHaveLength(1);
    const call = recorder.calls[0]!;
    expect(call.request.method).toBe("POST");
    expect(call.request.url).toBe(c.tokenUrl);
    expect(call.init).toMatchObject({ redirect: "manual", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    expect(call.init?.signal).toBeInstanceOf(AbortSignal);
    expect(call.request.redirect).toBe("manual");
    expect(call.request.credentials).toBe("omit");
    await c.checkRequest(call, tx!, auth);

    expect(keysWithPrefix(sessionStorage, PREFIX)).toEqual([]);
    expect(sessionStorage.getItem("theme")).toBe("dark");
    expect(location.search).toBe("?keep=1");
    expect(location.hash).toBe("#section");
    expect(location.pathname).toBe(new URL(pageUrl()).pathname);
    expect(statuses).toEqual(["idle", "exchanging", "authorized"]);
    expect(flow.snapshot()).toEqual({ status: "authorized" });
    expect(leaked([JSON.stringify(flow.snapshot())], secretsOf(tx!))).toEqual([]);
  });

  it("sends the plain method to OpenRouter when the flow used plain", async () => {
    const c = { ...openRouterCase, provider: () => openRouterProvider({ codeChallengeMethod: "plain" }) };
    const { flow, recorder } = setup(c);
    const auth = await flow.authorize();
    const [tx] = stored();
    await flow.handleCallback(openRouterCallback(auth));
    expect(JSON.parse(await recorder.calls[0]!.body)).toEqual({ code: CODE, code_verifier: tx!.codeVerifier, code_challenge_method: "plain" });
  });

  it("removes code, state, iss and every error parameter from the address bar, keeping the rest byte for byte", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    const state = auth.searchParams.get("state")!;
    showInAddressBar(`${pageUrl()}?a=%7E+x&code=${CODE}&b=&state=${state}&iss=&error_uri=&c=1&code2=z#frag?code=1`);
    await flow.handleCallback();
    expect(location.search).toBe("?a=%7E+x&b=&c=1&code2=z");
    expect(location.hash).toBe("#frag?code=1");
  });

  it("removes the whole query when only callback parameters were in it", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    showInAddressBar(`${pageUrl()}?code=${CODE}&state=${auth.searchParams.get("state")}`);
    await flow.handleCallback();
    expect(location.href).toBe(pageUrl());
  });

  it("leaves the address bar alone with cleanUrl: false", async () => {
    const { flow } = setup(oauth2Case, { cleanUrl: false });
    const auth = await flow.authorize();
    const callback = oauth2Callback(auth);
    showInAddressBar(callback);
    await flow.handleCallback();
    expect(location.href).toBe(callback);
  });

  it("leaves the address bar alone when handling a URL that is not in it", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    showInAddressBar(`${pageUrl()}?code=other&keep=1`);
    await flow.handleCallback(oauth2Callback(auth));
    expect(location.search).toBe("?code=other&keep=1");
  });

  it.each(PROVIDERS)("$name: a replay of the same callback after success is no_transaction, cleaned, and sends nothing", async (c) => {
    const { flow, recorder } = setup(c);
    const auth = await flow.authorize();
    const callback = c.callback(auth);
    showInAddressBar(callback);
    await flow.handleCallback();
    expect((await rejection(flow.handleCallback(callback))).code).toBe("no_transaction");
    showInAddressBar(callback);
    const error = await rejection(flow.handleCallback());
    expect(error.code).toBe("no_transaction");
    expect(error.message).toMatch(/start it again/);
    expect(location.search).toBe("?keep=1");
    expect(flow.snapshot()).toEqual({ status: "failed", error });
    expect((await rejection(createFlow(c.provider(), { fetch: recorder.fetch }).handleCallback(callback))).code).toBe("no_transaction");
    expect(recorder.calls).toHaveLength(1);
    expect(keysWithPrefix(sessionStorage, PREFIX)).toEqual([]);
  });

  it.each(PROVIDERS)("$name: two calls in the same tick share one request and one result", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    const auth = await flow.authorize();
    showInAddressBar(c.callback(auth));
    const first = flow.handleCallback();
    const second = flow.handleCallback();
    const third = flow.handleCallback(c.callback(auth));
    const [a, b, d] = await Promise.all([first, second, third]);
    expect(recorder.calls).toHaveLength(1);
    expect(a).toEqual(c.result());
    expect(b).toBe(a);
    expect(d).toBe(a);
    expect(statuses).toEqual(["idle", "exchanging", "authorized"]);
  });

  it.each(PROVIDERS)("$name: two flow objects called in the same tick (StrictMode) share one request and both end authorized", async (c) => {
    const recorder = fetchRecorder(() => c.success());
    const first = createFlow(c.provider(), { fetch: recorder.fetch });
    const second = createFlow(c.provider(), { fetch: recorder.fetch });
    const secondStatuses: FlowStatus[] = [];
    second.subscribe((s) => secondStatuses.push(s.status));
    const auth = await first.authorize();
    showInAddressBar(c.callback(auth));
    const [a, b] = await Promise.all([first.handleCallback(), second.handleCallback()]);
    expect(recorder.calls).toHaveLength(1);
    expect(a).toEqual(c.result());
    expect(b).toBe(a);
    expect(first.status).toBe("authorized");
    expect(second.status).toBe("authorized");
    expect(secondStatuses).toEqual(["exchanging", "authorized"]);
  });

  it("lets a second flow object that shares a failing request end failed with the same error", async () => {
    const recorder = fetchRecorder(() => json(400, { error: "invalid_grant" }));
    const first = createFlow(oauth2Provider(), { fetch: recorder.fetch });
    const second = createFlow(oauth2Provider(), { fetch: recorder.fetch });
    const auth = await first.authorize();
    showInAddressBar(oauth2Callback(auth));
    const results = await Promise.allSettled([first.handleCallback(), second.handleCallback()]);
    expect(recorder.calls).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(second.snapshot()).toEqual({ status: "failed", error: first.snapshot().error });
    expect(first.snapshot().error).toBeInstanceOf(TokenError);
  });

  it.each(["in order", "in reverse order"])("finds each of two pending transactions (two tabs) by its state, %s", async (order) => {
    const recorder = fetchRecorder(async (call) => json(200, { key: `key-for-${JSON.parse(await call.body).code}`, user_id: null }));
    const flow = createFlow(openRouterProvider(), { fetch: recorder.fetch });
    const authA = await flow.authorize();
    const authB = await flow.authorize();
    const byState = new Map(stored().map((t) => [t.state, t]));
    const callbacks = [openRouterCallback(authA, "code=code-a"), openRouterCallback(authB, "code=code-b")];
    if (order === "in reverse order") callbacks.reverse();
    const results = [];
    for (const callback of callbacks) results.push(await flow.handleCallback(callback));
    const expectedCodes = order === "in order" ? ["code-a", "code-b"] : ["code-b", "code-a"];
    expect(results).toEqual(expectedCodes.map((code) => ({ key: `key-for-${code}`, userId: null })));
    expect(recorder.calls).toHaveLength(2);
    for (const [i, callback] of callbacks.entries()) {
      const state = new URL(callback).searchParams.get("state")!;
      expect(JSON.parse(await recorder.calls[i]!.body).code_verifier).toBe(byState.get(state)!.codeVerifier);
    }
    expect(stored()).toEqual([]);
  });
});

describe("handleCallback(): which callbacks are this flow's", () => {
  it.each(PROVIDERS)("$name: a state matching no transaction while one is pending is state_mismatch, sends nothing and keeps the transaction", async (c) => {
    const { flow, recorder } = setup(c);
    const auth = await flow.authorize();
    const [tx] = stored();
    const forged = c.callback(auth).replace(tx!.state, "A".repeat(43));
    const error = await rejection(flow.handleCallback(forged));
    expect(error.code).toBe("state_mismatch");
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([tx]);
    expect(flow.snapshot()).toEqual({ status: "failed", error });
    expectNoSecrets(error, flow, tx!);
    await expect(flow.handleCallback(c.callback(auth))).resolves.toEqual(c.result());
  });

  it.each([
    { what: "a code while nothing is pending", query: `code=${CODE}&state=abc` },
    { what: "an error while nothing is pending", query: "error=access_denied&state=abc" },
  ])("rejects $what on the redirect URI with no_transaction, cleans the address bar and sends nothing", async ({ query }) => {
    const { flow, recorder, statuses } = setup(openRouterCase);
    showInAddressBar(`${pageUrl()}?keep=1&${query}#top`);
    const error = await rejection(flow.handleCallback());
    expect(error.code).toBe("no_transaction");
    expect(recorder.calls).toHaveLength(0);
    expect(statuses).toEqual(["idle", "failed"]);
    expect(location.search + location.hash).toBe("?keep=1#top");
    expect(keysWithPrefix(sessionStorage, PREFIX)).toEqual([]);
  });

  it.each([
    { what: "a code while nothing is pending", query: `code=${CODE}&state=abc` },
    { what: "an error while nothing is pending", query: "error=access_denied&state=abc" },
  ])("resolves null for $what on a page that is not the redirect URI", async ({ query }) => {
    const { flow, recorder, statuses } = setup(openRouterCase);
    expect(await flow.handleCallback(`${location.origin}/elsewhere/?${query}`)).toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(statuses).toEqual(["idle"]);
  });

  it.each([
    { what: "neither code nor error", pending: true, query: "keep=1&state=abc" },
    { what: "an empty code", pending: true, query: "code=&state=abc" },
    { what: "no query at all", pending: true, query: "" },
  ])("resolves null for a URL with $what, sending nothing", async ({ pending, query }) => {
    const { flow, recorder, statuses } = setup(openRouterCase);
    if (pending) await flow.authorize();
    const before = stored();
    showInAddressBar(`${pageUrl()}${query ? `?${query}` : ""}`);
    expect(await flow.handleCallback()).toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
    expect(statuses).toEqual(["idle"]);
    expect(location.search).toBe(query ? `?${query}` : "");
  });

  it("resolves null for another provider's callback when this provider has nothing pending, leaving it for its own flow", async () => {
    const other = setup(oauth2Case);
    const mine = setup(openRouterCase);
    const auth = await other.flow.authorize();
    const callback = oauth2Callback(auth);
    expect(await mine.flow.handleCallback(callback)).toBeNull();
    expect(stored()).toHaveLength(1);
    await expect(other.flow.handleCallback(callback)).resolves.toEqual(oauth2Case.result());
    expect(mine.recorder.calls).toHaveLength(0);
  });

  it("resolves null for another provider's callback even while this provider has its own pending, leaving both", async () => {
    const other = setup(oauth2Case);
    const mine = setup(openRouterCase);
    await mine.flow.authorize();
    const callback = oauth2Callback(await other.flow.authorize());
    expect(await mine.flow.handleCallback(callback)).toBeNull();
    expect(mine.flow.status).toBe("idle");
    expect(stored()).toHaveLength(2);
    await expect(other.flow.handleCallback(callback)).resolves.toEqual(oauth2Case.result());
    expect(stored()).toHaveLength(1);
    expect(mine.recorder.calls).toHaveLength(0);
  });

  it("resolves null on a normal page load even when storage is blocked", async () => {
    const restore = blockSessionStorage();
    try {
      const flow = createFlow(openRouterProvider(), { fetch: fetchRecorder().fetch });
      await expect(flow.handleCallback(`${pageUrl()}?keep=1`)).resolves.toBeNull();
      expect(flow.isCallback(`${pageUrl()}?keep=1`)).toBe(false);
    } finally {
      restore();
    }
  });

  it("rejects a URL that is not absolute with invalid_callback", async () => {
    const { flow } = setup(openRouterCase);
    expect((await rejection(flow.handleCallback("/callback?code=x"))).code).toBe("invalid_callback");
  });

  it("accepts an OpenRouter callback without state when exactly one OpenRouter transaction is pending", async () => {
    const { flow, recorder } = setup(openRouterCase);
    await flow.authorize();
    const [tx] = stored();
    showInAddressBar(`${pageUrl()}?keep=1&code=${CODE}#section`);
    await expect(flow.handleCallback()).resolves.toEqual(openRouterCase.result());
    expect(JSON.parse(await recorder.calls[0]!.body).code_verifier).toBe(tx!.codeVerifier);
    expect(stored()).toEqual([]);
    expect(location.search).toBe("?keep=1");
  });

  it("rejects an OpenRouter callback without state with state_missing when two are pending, sending nothing", async () => {
    const { flow, recorder } = setup(openRouterCase);
    await flow.authorize();
    await flow.authorize();
    const before = stored();
    const error = await rejection(flow.handleCallback(`${pageUrl()}?keep=1&code=${CODE}`));
    expect(error.code).toBe("state_missing");
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
    for (const tx of before) expectNoSecrets(error, flow, tx);
  });

  it("does not count an expired OpenRouter transaction towards the stateless rule", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow, recorder } = setup(openRouterCase, { ttlMs: 1000 });
    await flow.authorize();
    now.mockReturnValue(T0 + 2000);
    await flow.authorize();
    const fresh = stored().find((t) => t.createdAt === T0 + 2000)!;
    await expect(flow.handleCallback(`${pageUrl()}?keep=1&code=${CODE}`)).resolves.toEqual(openRouterCase.result());
    expect(JSON.parse(await recorder.calls[0]!.body).code_verifier).toBe(fresh.codeVerifier);
  });

  it("rejects an oauth2 callback without state with state_missing, sending nothing", async () => {
    const { flow, recorder } = setup(oauth2Case);
    await flow.authorize();
    const error = await rejection(flow.handleCallback(`${pageUrl()}?code=${CODE}`));
    expect(error.code).toBe("state_missing");
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toHaveLength(1);
    expectNoSecrets(error, flow, stored()[0]!);
  });

  it.each(PROVIDERS)("$name: an error callback with the right state is an AuthorizationError; no request, transaction gone, address bar clean", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    const auth = await flow.authorize();
    const [tx] = stored();
    showInAddressBar(c.callback(auth, "error=access_denied&error_description=The+user+said+no&error_uri=https%3A%2F%2Fas.example%2Fdoc"));
    const error = await rejection(flow.handleCallback());
    expectNoSecrets(error, flow, tx!);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "authorization_error", error: "access_denied", errorDescription: "The user said no", errorUri: "https://as.example/doc" });
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([]);
    expect(location.search).toBe("?keep=1");
    expect(location.hash).toBe("#section");
    expect(statuses).toEqual(["idle", "failed"]);
    expect(flow.snapshot().error).toBe(error);
  });

  it("rejects a callback that repeats a parameter with invalid_callback and forgets the transaction", async () => {
    const { flow, recorder } = setup(oauth2Case);
    const auth = await flow.authorize();
    const [tx] = stored();
    const error = await rejection(flow.handleCallback(oauth2Callback(auth, `code=${CODE}&code=other`)));
    expect(error.code).toBe("invalid_callback");
    expectNoSecrets(error, flow, tx!);
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([]);
  });
});

describe("handleCallback(): issuer checks (RFC 9207)", () => {
  const withIssuer = (options: Partial<OAuth2Options>) => ({ ...oauth2Case, provider: () => oauth2Provider({ issuer: AS, ...options }) });

  it.each([
    { what: "an iss that differs", options: {}, iss: "https://evil.example", code: "issuer_mismatch" },
    { what: "an iss that differs only by a trailing slash", options: {}, iss: `${AS}/`, code: "issuer_mismatch" },
    { what: "no iss while requireIssuer is set", options: { requireIssuer: true }, iss: null, code: "issuer_missing" },
  ])("rejects $what with $code before any request", async ({ options, iss, code }) => {
    const { flow, recorder } = setup(withIssuer(options));
    const auth = await flow.authorize();
    const [tx] = stored();
    showInAddressBar(oauth2Callback(auth, iss === null ? `code=${CODE}` : `code=${CODE}&iss=${encodeURIComponent(iss)}`));
    const error = await rejection(flow.handleCallback());
    expect(error.code).toBe(code);
    expectNoSecrets(error, flow, tx!);
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([]);
    expect(location.search).toBe("?keep=1");
  });

  it.each([
    { what: "a matching iss", options: {}, iss: AS },
    { what: "a matching iss while requireIssuer is set", options: { requireIssuer: true }, iss: AS },
    { what: "no iss while requireIssuer is not set", options: {}, iss: null },
  ])("accepts $what", async ({ options, iss }) => {
    const { flow, recorder } = setup(withIssuer(options));
    const auth = await flow.authorize();
    showInAddressBar(oauth2Callback(auth, iss === null ? `code=${CODE}` : `code=${CODE}&iss=${encodeURIComponent(iss)}`));
    await expect(flow.handleCallback()).resolves.toEqual(oauth2Case.result());
    expect(recorder.calls).toHaveLength(1);
    expect(location.search).toBe("?keep=1");
  });
});

describe("expiry and sweeping", () => {
  it("rejects a transaction older than ttlMs with expired, removes it, sends nothing, and never touches other apps' keys", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow, recorder, statuses } = setup(openRouterCase, { ttlMs: 1000 });
    sessionStorage.setItem("other-app:x", "1");
    sessionStorage.setItem("theme", "dark");
    const auth = await flow.authorize();
    const [tx] = stored();
    now.mockReturnValue(T0 + 1001);
    showInAddressBar(openRouterCallback(auth));
    const error = await rejection(flow.handleCallback());
    expect(error.code).toBe("expired");
    expectNoSecrets(error, flow, tx!);
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([]);
    expect(sessionStorage.getItem("other-app:x")).toBe("1");
    expect(sessionStorage.getItem("theme")).toBe("dark");
    expect(location.search).toBe("?keep=1");
    expect(statuses).toEqual(["idle", "failed"]);
  });

  it("accepts a transaction exactly ttlMs old", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow } = setup(openRouterCase, { ttlMs: 1000 });
    const auth = await flow.authorize();
    now.mockReturnValue(T0 + 1000);
    await expect(flow.handleCallback(openRouterCallback(auth))).resolves.toEqual(openRouterCase.result());
  });

  it("expires transactions after 600000 ms by default", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow } = setup(openRouterCase);
    const auth = await flow.authorize();
    now.mockReturnValue(T0 + 600_001);
    expect((await rejection(flow.handleCallback(openRouterCallback(auth)))).code).toBe("expired");
  });

  it("sweeps expired and unreadable transactions on the next authorize(), never other keys", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow } = setup(openRouterCase, { ttlMs: 1000 });
    sessionStorage.setItem("other-app:x", "1");
    sessionStorage.setItem("theme", "dark");
    sessionStorage.setItem(`${PREFIX}garbage`, "{");
    await flow.authorize();
    await createFlow(oauth2Provider(), { ttlMs: 1000 }).authorize();
    now.mockReturnValue(T0 + 1001);
    await flow.authorize();
    expect(stored().map((t) => t.createdAt)).toEqual([T0 + 1001]);
    expect(sessionStorage.getItem("other-app:x")).toBe("1");
    expect(sessionStorage.getItem("theme")).toBe("dark");
  });

  it("stores each transaction's expiry (createdAt + the creating flow's ttlMs)", async () => {
    vi.spyOn(Date, "now").mockReturnValue(T0);
    await setup(openRouterCase, { ttlMs: 1234 }).flow.authorize();
    expect(stored()).toEqual([expect.objectContaining({ createdAt: T0, expiresAt: T0 + 1234 })]);
  });

  it("never sweeps another flow's transaction that is still valid by that flow's ttlMs, and takes it afterwards", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const recorder = fetchRecorder(() => oauth2Case.success());
    const short = createFlow(openRouterProvider(), { ttlMs: 10 * 60_000, fetch: recorder.fetch });
    const long = createFlow(oauth2Provider(), { ttlMs: 60 * 60_000, fetch: recorder.fetch });
    const auth = await long.authorize();
    now.mockReturnValue(T0 + 15 * 60_000);
    await short.authorize();
    expect(stored()).toHaveLength(2);
    await expect(long.handleCallback(oauth2Callback(auth))).resolves.toEqual(oauth2Case.result());
    expect(recorder.calls).toHaveLength(1);
  });

  it("judges an entry stored without an expiry (an older version's) by the reading flow's ttlMs", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const { flow, recorder } = setup(oauth2Case, { ttlMs: 1000 });
    const auth = await flow.authorize();
    const [tx] = stored();
    const { expiresAt: _, ...legacy } = tx!;
    sessionStorage.setItem(PREFIX + tx!.state, JSON.stringify(legacy));
    now.mockReturnValue(T0 + 1001);
    expect((await rejection(flow.handleCallback(oauth2Callback(auth)))).code).toBe("expired");
    expect(recorder.calls).toHaveLength(0);
  });

  it("honours a custom keyPrefix and leaves keys under other prefixes alone", async () => {
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    const storage = new MemoryStorage();
    const custom = setup(openRouterCase, { storage, keyPrefix: "myapp.auth.", ttlMs: 1000 });
    await createFlow(oauth2Provider(), { storage }).authorize();
    const defaultKey = keysWithPrefix(storage, PREFIX)[0]!;
    now.mockReturnValue(T0 + 5000);
    const auth = await custom.flow.authorize();
    expect(keysWithPrefix(storage, "myapp.auth.")).toHaveLength(1);
    expect(storage.getItem(defaultKey)).not.toBeNull();
    await expect(custom.flow.handleCallback(openRouterCallback(auth))).resolves.toEqual(openRouterCase.result());
    expect(storage.keys()).toEqual([defaultKey]);
  });
});

describe("storage that cannot hold the transaction", () => {
  it.each([
    { what: "reading window.sessionStorage throws", make: () => ({ storage: undefined, restore: blockSessionStorage() }) },
    { what: "every storage method throws", make: () => ({ storage: throwingStorage(), restore: () => {} }) },
    { what: "setItem throws QuotaExceededError", make: () => ({ storage: new FullStorage(), restore: () => {} }) },
    { what: "writes are silently dropped", make: () => ({ storage: new DroppingStorage(), restore: () => {} }) },
    { what: "it reads back something else", make: () => ({ storage: new CorruptingStorage(), restore: () => {} }) },
  ])("start() rejects with storage_unavailable and never navigates when $what", async ({ make }) => {
    const { storage, restore } = make();
    try {
      const navigate = vi.fn();
      const flow = createFlow(openRouterProvider(), { navigate, ...(storage ? { storage } : {}) });
      const error = await rejection(flow.start());
      expect(error.code).toBe("storage_unavailable");
      expect((await rejection(flow.authorize())).code).toBe("storage_unavailable");
      expect(navigate).not.toHaveBeenCalled();
      expect(flow.status).toBe("failed");
      expect(flow.snapshot().error?.code).toBe("storage_unavailable");
      if (storage instanceof MemoryStorage) expect(storage.keys()).toEqual([]);
      if (storage instanceof FullStorage) {
        const tx = JSON.parse(storage.attempted[0]!) as Transaction;
        expect(leaked(errorSurfaces(error), secretsOf(tx))).toEqual([]);
      }
      expect(() => flow.reset()).not.toThrow();
      expect(flow.isCallback(`${pageUrl()}?code=x&state=y`)).toBe(false);
    } finally {
      restore();
    }
  });
});

describe("failures at the token endpoint", () => {
  type Secrets = { code: string; verifier: string; state: string; key: string };
  const echo = (s: Secrets) => `code ${s.code}, verifier ${s.verifier}, state ${s.state}`;
  interface FailureCase {
    what: string;
    provider?: ProviderCase<unknown>;
    respond: (s: Secrets, call: RecordedCall) => Response | Promise<Response>;
    code: string;
    fields?: Record<string, unknown>;
    timeoutMs?: number;
    abort?: "before" | "during";
    calls?: number;
  }
  const cases: FailureCase[] = [
    {
      what: "400 with an RFC 6749 body echoing the secrets",
      respond: (s) => json(400, { error: "invalid_grant", error_description: echo(s) }),
      code: "token_error",
      fields: { status: 400, error: "invalid_grant", errorDescription: "code [redacted], verifier [redacted], state [redacted]" },
    },
    {
      what: "403 with OpenRouter's body",
      respond: () => json(403, { error: { code: 403, message: "Invalid code or code_verifier" } }),
      code: "token_error",
      fields: { status: 403, error: "403", errorDescription: "Invalid code or code_verifier" },
    },
    {
      what: "403 with OpenRouter's body echoing the secrets",
      respond: (s) => json(403, { error: { code: 403, message: echo(s) } }),
      code: "token_error",
      fields: { status: 403, error: "403", errorDescription: "code [redacted], verifier [redacted], state [redacted]" },
    },
    {
      what: "a non-JSON 500 echoing the secrets",
      respond: (s) => text(500, `<h1>Internal error</h1>${echo(s)}`, "text/html"),
      code: "token_error",
      fields: { status: 500, error: null, errorDescription: null },
    },
    {
      what: "oauth2: 400 with an RFC 6749 body echoing the secrets",
      provider: oauth2Case as ProviderCase<unknown>,
      respond: (s) => json(400, { error: "invalid_grant", error_description: echo(s) }),
      code: "token_error",
      fields: { status: 400, error: "invalid_grant", errorDescription: "code [redacted], verifier [redacted], state [redacted]" },
    },
    { what: "200 text/html", respond: () => text(200, "<html>Welcome</html>", "text/html"), code: "invalid_response" },
    { what: "200 null", respond: () => json(200, null), code: "invalid_response" },
    { what: "200 []", respond: () => json(200, []), code: "invalid_response" },
    { what: '200 {"key":""}', respond: () => json(200, { key: "" }), code: "invalid_response" },
    { what: '200 {"key":1}', respond: () => json(200, { key: 1 }), code: "invalid_response" },
    { what: "200 with the key but a numeric user_id", respond: (s) => json(200, { key: s.key, user_id: 7 }), code: "invalid_response" },
    {
      what: "oauth2: 200 without token_type",
      provider: oauth2Case as ProviderCase<unknown>,
      respond: () => json(200, { access_token: "x" }),
      code: "invalid_response",
    },
    {
      what: 'oauth2: 200 with expires_in "-1"',
      provider: oauth2Case as ProviderCase<unknown>,
      respond: () => json(200, { access_token: "x", token_type: "Bearer", expires_in: "-1" }),
      code: "invalid_response",
    },
    {
      what: "oauth2: 200 with the token but a numeric token_type",
      provider: oauth2Case as ProviderCase<unknown>,
      respond: (s) => json(200, { access_token: s.key, token_type: 5 }),
      code: "invalid_response",
    },
    {
      what: "a 307 redirect",
      respond: () => new Response(null, { status: 307, headers: { Location: "https://evil.example/steal" } }),
      code: "invalid_response",
    },
    {
      what: "oauth2: a 302 redirect",
      provider: oauth2Case as ProviderCase<unknown>,
      respond: () => new Response(null, { status: 302, headers: { Location: "https://evil.example/steal" } }),
      code: "invalid_response",
    },
    {
      what: "a rejected fetch whose message holds the secrets",
      respond: (s) => Promise.reject(new TypeError(`Failed to fetch: ${echo(s)}`)),
      code: "network_error",
    },
    { what: "a hanging fetch", respond: (_, call) => hang(call.signal), code: "timeout", timeoutMs: 5 },
    { what: "a fetch aborted mid-flight", respond: (_, call) => hang(call.signal), code: "aborted", abort: "during" },
  ];

  it.each(cases)("$what: $code, transaction gone, no retry, status failed, no secret shown", async (c) => {
    const provider = c.provider ?? (openRouterCase as ProviderCase<unknown>);
    const controller = new AbortController();
    let secrets: Secrets = { code: CODE, key: KEY, verifier: "", state: "" };
    const { flow, recorder, statuses } = setup(provider, c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs }, (call) => {
      if (c.abort === "during") queueMicrotask(() => controller.abort());
      return c.respond(secrets, call);
    });
    const auth = await flow.authorize();
    const [tx] = stored();
    secrets = { code: CODE, key: KEY, verifier: tx!.codeVerifier, state: tx!.state };
    if (c.abort === "before") controller.abort();
    showInAddressBar(provider.callback(auth));

    const error = await rejection(flow.handleCallback(undefined, { signal: controller.signal }));

    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe(c.code);
    if (c.fields) expect(error).toMatchObject(c.fields);
    expect(recorder.calls).toHaveLength(c.calls ?? 1);
    expect(stored()).toEqual([]);
    expect(location.search).toBe("?keep=1");
    expect(flow.status).toBe("failed");
    expect(flow.snapshot().error).toBe(error);
    expect(statuses).toEqual(["idle", "exchanging", "failed"]);
    expect(leaked([...errorSurfaces(error), JSON.stringify(flow.snapshot()), consoleRecord.text()], secrets)).toEqual([]);
    expectNoSecrets(error, flow, tx!);
    // The failure is final: the same callback again is no callback of this flow any more.
    expect(await flow.handleCallback()).toBeNull();
    expect(recorder.calls).toHaveLength(c.calls ?? 1);
  });

  it("keeps a cleaned copy of a network error's cause", async () => {
    const { flow } = setup(openRouterCase, {}, () => Promise.reject(new TypeError(`Failed to fetch ${CODE}`)));
    const auth = await flow.authorize();
    const error = await rejection(flow.handleCallback(openRouterCallback(auth)));
    expect(error.cause).toBeInstanceOf(Error);
    expect(String(error.cause)).toBe("TypeError: Failed to fetch [redacted]");
  });

  it("uses globalThis.fetch when no fetch is given", async () => {
    const recorder = fetchRecorder(() => openRouterCase.success());
    vi.stubGlobal("fetch", recorder.fetch);
    try {
      const flow = createFlow(openRouterProvider());
      const auth = await flow.authorize();
      await expect(flow.handleCallback(openRouterCallback(auth))).resolves.toEqual(openRouterCase.result());
      expect(recorder.calls).toHaveLength(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("returnTo", () => {
  it.each([
    ["//evil.example"],
    ["/\\evil.example"],
    ["\\\\evil.example"],
    ["javascript:alert(1)"],
    ["https://evil.example/"],
    ["http://localhost:1/"],
    [42 as unknown as string],
  ])("rejects %s with invalid_argument, storing and navigating nothing", async (returnTo) => {
    const navigate = vi.fn();
    const flow = createFlow(openRouterProvider(), { navigate });
    expect((await rejection(flow.start({ returnTo }))).code).toBe("invalid_argument");
    expect((await rejection(flow.authorize({ returnTo }))).code).toBe("invalid_argument");
    expect(navigate).not.toHaveBeenCalled();
    expect(stored()).toEqual([]);
    expect(flow.status).toBe("failed");
    expect(flow.snapshot().error?.code).toBe("invalid_argument");
  });

  it.each([
    { given: "/account?tab=1#x", kept: "/account?tab=1#x" },
    { given: "account", kept: "/account" },
    { given: "ORIGIN/settings?a=1", kept: "/settings?a=1" },
  ])("accepts $given and gives back $kept in the snapshot, before the redirect and after the callback", async ({ given, kept }) => {
    const returnTo = given.replace("ORIGIN", location.origin);
    const navigate = vi.fn();
    const recorder = fetchRecorder(() => openRouterCase.success());
    const start = createFlow(openRouterProvider(), { navigate, fetch: recorder.fetch });
    await start.start({ returnTo });
    expect(start.snapshot()).toEqual({ status: "redirecting", returnTo: kept });
    expect(stored()[0]!.returnTo).toBe(kept);
    const auth = new URL(navigate.mock.calls[0]![0] as string);
    const callbackPage = createFlow(openRouterProvider(), { fetch: recorder.fetch });
    await callbackPage.handleCallback(openRouterCallback(auth));
    expect(callbackPage.snapshot()).toEqual({ status: "authorized", returnTo: kept });
  });

  it("gives returnTo back after a failed callback too", async () => {
    const { flow } = setup(openRouterCase, {}, () => json(403, { error: { code: 403, message: "Invalid code or code_verifier" } }));
    const auth = await flow.authorize({ returnTo: "/account" });
    await rejection(flow.handleCallback(openRouterCallback(auth)));
    expect(flow.snapshot()).toMatchObject({ status: "failed", returnTo: "/account" });
  });
});

describe("isCallback", () => {
  it.each([
    { what: "a code and the pending state", query: (s: string) => `code=c&state=${s}`, pending: true, expected: true },
    { what: "an error and the pending state", query: (s: string) => `error=access_denied&state=${s}`, pending: true, expected: true },
    { what: "a code without state (OpenRouter, one pending)", query: () => "code=c", pending: true, expected: true },
    { what: "neither code nor error", query: (s: string) => `state=${s}`, pending: true, expected: false },
    { what: "a state matching nothing", query: () => `code=c&state=${"A".repeat(43)}`, pending: true, expected: false },
    { what: "a code while nothing is pending", query: () => "code=c&state=abc", pending: false, expected: false },
  ])("is $expected for a URL with $what", async ({ query, pending, expected }) => {
    const { flow } = setup(openRouterCase);
    let state = "none";
    if (pending) {
      await flow.authorize();
      state = stored()[0]!.state;
    }
    const before = stored();
    expect(flow.isCallback(`${pageUrl()}?${query(state)}`)).toBe(expected);
    expect(flow.isCallback(new URL(`${pageUrl()}?${query(state)}`))).toBe(expected);
    expect(stored()).toEqual(before);
  });

  it("reads the address bar by default", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    expect(flow.isCallback()).toBe(false);
    showInAddressBar(oauth2Callback(auth));
    expect(flow.isCallback()).toBe(true);
  });

  it("is false for another provider's transaction and for a URL that is not absolute", async () => {
    const other = setup(oauth2Case);
    const auth = await other.flow.authorize();
    expect(setup(openRouterCase).flow.isCallback(oauth2Callback(auth))).toBe(false);
    expect(other.flow.isCallback("?code=c")).toBe(false);
  });
});

describe("reset, subscribe and snapshot", () => {
  it("reset() forgets this provider's transactions only and returns to idle", async () => {
    const navigate = vi.fn();
    const openRouterFlow = createFlow(openRouterProvider(), { navigate });
    const oauth2Flow = createFlow(oauth2Provider(), { navigate });
    sessionStorage.setItem("other-app:x", "1");
    await openRouterFlow.start();
    await openRouterFlow.start();
    await oauth2Flow.authorize();
    expect(openRouterFlow.status).toBe("redirecting");
    openRouterFlow.reset();
    expect(openRouterFlow.snapshot()).toEqual({ status: "idle" });
    expect(stored().map((t) => t.provider)).toEqual([oauth2Provider().id]);
    expect(sessionStorage.getItem("other-app:x")).toBe("1");
  });

  it("reset() after a failure returns to idle and drops the error", async () => {
    const { flow } = setup(oauth2Case);
    await flow.authorize();
    await rejection(flow.handleCallback(`${pageUrl()}?code=c`));
    expect(flow.status).toBe("failed");
    flow.reset();
    expect(flow.snapshot()).toEqual({ status: "idle" });
  });

  it("subscribe() returns an unsubscribe that stops further calls", async () => {
    const flow = createFlow(openRouterProvider(), { navigate: () => {} });
    const kept = vi.fn();
    const dropped = vi.fn();
    flow.subscribe(kept);
    const unsubscribe = flow.subscribe(dropped);
    await flow.start();
    unsubscribe();
    flow.reset();
    expect(kept.mock.calls.map(([s]) => s.status)).toEqual(["redirecting", "idle"]);
    expect(dropped.mock.calls.map(([s]) => s.status)).toEqual(["redirecting"]);
    expect(kept.mock.calls[1]![0]).toBe(flow.snapshot());
  });

  it("snapshot() is the same object until the status changes", async () => {
    const flow = createFlow(openRouterProvider(), { navigate: () => {} });
    const idle = flow.snapshot();
    expect(flow.snapshot()).toBe(idle);
    expect(idle).toEqual({ status: "idle" });
    await flow.authorize();
    expect(flow.snapshot()).toBe(idle);
    await flow.start();
    const redirecting = flow.snapshot();
    expect(redirecting).not.toBe(idle);
    expect(flow.snapshot()).toBe(redirecting);
    expect(flow.status).toBe("redirecting");
  });
});

// ---------------------------------------------------------------------------------------------
// v0.2: every safety claim holds (DESIGN.md "The flow (v0.2)").

/** A minimal provider that records what the flow gives it. */
function recordingProvider(overrides: Partial<Provider<{ body: Record<string, unknown>; nonce: string | undefined }>> = {}) {
  const given: AuthorizationParams[] = [];
  const provider: Provider<{ body: Record<string, unknown>; nonce: string | undefined }> = {
    id: `fake ${AS}`,
    redirectUri: pageUrl(),
    codeChallengeMethod: "S256",
    authorizationUrl(params) {
      given.push(params);
      if (params.params && "state" in params.params) throw new PkceError("invalid_argument", "params cannot set state");
      return new URL(`${AS}/authorize?state=${params.state}`);
    },
    tokenRequest: ({ code, codeVerifier }) => new Request(`${AS}/token`, { method: "POST", body: new URLSearchParams({ code, code_verifier: codeVerifier }) }),
    parseResult: (body, context) => ({ body, nonce: context.nonce }),
    ...overrides,
  };
  return { provider, given };
}

describe("options are checked when the flow is created", () => {
  it("takes null options as none", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    vi.stubGlobal("fetch", recorder.fetch);
    const flow = createFlow(oauth2Case.provider(), null);
    await expect(flow.handleCallback(oauth2Callback(await flow.authorize()))).resolves.toEqual(oauth2Case.result());
  });

  it.each([false, "sessionStorage", 0])("creates a flow with the storage %j without touching it; using it is storage_unavailable", async (storage) => {
    const flow = createFlow(oauth2Case.provider(), { storage: storage as unknown as StorageLike });
    expect((await rejection(flow.authorize())).code).toBe("storage_unavailable");
  });

  it.each([
    { what: "an empty keyPrefix", options: { keyPrefix: "" } },
    { what: "a keyPrefix that is not a string", options: { keyPrefix: 7 as unknown as string } },
    ...[0, -1, NaN, Infinity, -Infinity, 2 ** 31, "5" as unknown as number].flatMap((n) => [
      { what: `ttlMs ${String(n)}`, options: { ttlMs: n } },
      { what: `timeoutMs ${String(n)}`, options: { timeoutMs: n } },
    ]),
  ])("refuses $what with invalid_config", ({ options }) => {
    const error = thrown(() => createFlow(openRouterProvider(), options as FlowOptions));
    expect(error.code).toBe("invalid_config");
  });

  it("accepts the edges 1 and 2^31 - 1 ms", () => {
    expect(() => createFlow(openRouterProvider(), { ttlMs: 1, timeoutMs: 2 ** 31 - 1 })).not.toThrow();
    expect(() => createFlow(openRouterProvider(), { ttlMs: 2 ** 31 - 1, timeoutMs: 1 })).not.toThrow();
  });

  it("never touches other keys of the app's storage, whatever the prefix", async () => {
    sessionStorage.setItem("app:draft", "keep me");
    const { flow } = setup(oauth2Case, { keyPrefix: "p:" });
    await flow.authorize();
    flow.reset();
    expect(sessionStorage.getItem("app:draft")).toBe("keep me");
  });
});

describe("flows whose prefixes start alike", () => {
  it("removes a transaction by the key it was read from and sends its code once, whichever flow sees the callback first", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const short = createFlow(oauth2Provider(), { fetch: recorder.fetch, keyPrefix: "pkce-flow:" });
    const long = createFlow(oauth2Provider(), { fetch: recorder.fetch, keyPrefix: "pkce-flow:admin:" });
    const auth = await long.authorize();
    const callback = oauth2Callback(auth);
    // The flow under the shorter prefix sees the key but not as its own transaction.
    expect(short.isCallback(callback)).toBe(false);
    expect(await short.handleCallback(`${location.origin}/elsewhere/?${new URL(callback).search.slice(1)}`)).toBeNull();
    await expect(long.handleCallback(callback)).resolves.toEqual(oauth2Case.result());
    await expect(long.handleCallback(callback)).rejects.toMatchObject({ code: "no_transaction" });
    expect(recorder.calls).toHaveLength(1);
    expect(keysWithPrefix(sessionStorage, "pkce-flow:")).toEqual([]);
  });

  it("leaves a longer prefix's pending transaction alone when the shorter one sweeps or resets", async () => {
    const short = createFlow(oauth2Provider(), { keyPrefix: "pkce-flow:", ttlMs: 1 });
    const long = createFlow(oauth2Provider(), { keyPrefix: "pkce-flow:admin:" });
    await long.authorize();
    const before = keysWithPrefix(sessionStorage, "pkce-flow:admin:");
    vi.useFakeTimers({ now: Date.now() + 10_000, toFake: ["Date"] });
    await short.authorize();
    short.reset();
    expect(keysWithPrefix(sessionStorage, "pkce-flow:admin:")).toEqual(before);
  });

  it("ignores and sweeps an entry whose key does not end in its own state", async () => {
    const { flow, recorder } = setup(oauth2Case);
    const auth = await flow.authorize();
    const [tx] = stored();
    sessionStorage.removeItem(PREFIX + tx!.state);
    sessionStorage.setItem(`${PREFIX}moved`, JSON.stringify(tx));
    expect((await rejection(flow.handleCallback(oauth2Callback(auth)))).code).toBe("no_transaction");
    await flow.authorize();
    expect(sessionStorage.getItem(`${PREFIX}moved`)).toBeNull();
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("check order when no transaction matches", () => {
  const withIssuer = () => oauth2Provider({ issuer: AS });
  it.each([
    { what: "a repeated parameter", query: "code=a&code=b&state=unknown&iss=https%3A%2F%2Fevil.example", code: "invalid_callback" },
    { what: "a code with a control character", query: "code=a%01&state=unknown&iss=https%3A%2F%2Fevil.example", code: "invalid_callback" },
    { what: "a wrong iss", query: "code=a&state=unknown&iss=https%3A%2F%2Fevil.example", code: "issuer_mismatch" },
    { what: "a wrong iss on an error", query: "error=access_denied&state=unknown&iss=https%3A%2F%2Fevil.example", code: "issuer_mismatch" },
    { what: "an unknown state", query: "code=a&state=unknown", code: "state_mismatch" },
    { what: "no state", query: "code=a", code: "state_missing" },
  ])("reports $what as $code while a transaction is pending, sending nothing and keeping it", async ({ query, code }) => {
    const { flow, recorder } = setup({ ...oauth2Case, provider: withIssuer });
    await flow.authorize();
    const before = stored();
    expect((await rejection(flow.handleCallback(`${pageUrl()}?${query}`))).code).toBe(code);
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
  });

  it.each([
    { what: "a repeated parameter", query: "code=a&code=b&state=unknown", code: "invalid_callback" },
    { what: "a wrong iss", query: "code=a&state=unknown&iss=https%3A%2F%2Fevil.example", code: "issuer_mismatch" },
    { what: "an unknown state", query: "code=a&state=unknown", code: "no_transaction" },
  ])("reports $what as $code on the redirect URI when nothing is pending", async ({ query, code }) => {
    const { flow, recorder } = setup({ ...oauth2Case, provider: withIssuer });
    expect((await rejection(flow.handleCallback(`${pageUrl()}?${query}`))).code).toBe(code);
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("hostile callback URLs", () => {
  // Entries a careless or hostile script may leave under the prefix.
  const JUNK = ["null", "1", '"x"', "[]", "{", '{"codeVerifier":1}', '{"codeVerifier":"v","state":"s","createdAt":"1"}', '{"codeVerifier":"v","state":"s","createdAt":1e309}', '{"__proto__":{"codeVerifier":"v"},"state":"s","createdAt":1}'];

  it.each(PROVIDERS)("$name: turns odd callback URLs, with junk in storage, into null, a result or a PkceError rejection, never a throw", async (c) => {
    vi.stubGlobal("close", () => {});
    vi.stubGlobal("BroadcastChannel", undefined);
    try {
      const storage = new MemoryStorage();
      const { flow } = setup(c, { storage });
      const auth = await flow.authorize();
      const { state } = stored(storage)[0]!;
      // After authorize(), which would sweep them.
      JUNK.forEach((junk, i) => storage.setItem(`${PREFIX}junk${i}`, junk));
      storage.setItem(`${PREFIX}s`, '{"codeVerifier":"v","state":"s","createdAt":1,"provider":null}');
      const p = c.callback(auth).replace(/[?#].*$/, "");
      const urls = [
        `${p}?code=`, `${p}?code=%`, `${p}?code=%E0%A4%A&state=${state}`, `${p}?code=a&code=b&state=${state}`, `${p}?c%6Fde=a&code=b&state=${state}`,
        `${p}?code=a&state=${state}&state=`, `${p}?code=a&state=${state}&iss=`, `${p}?code=a&state=${state}&iss=%00`, `${p}?code=a\u0000&state=${state}`,
        `${p}?error=x&state=${state}&error_uri=javascript:alert(1)`, `${p}?code=${"a".repeat(9000)}&state=${state}`, `${p}?${"x".repeat(9000)}=1&code=a&state=${state}`,
        `${p}?code=a&state=s`, `${p}?code=a&state=junk0`, `${p}?code=a`, `${p}?error=`, `${p}?code=a&state=pkce-popup.`, `${p}?code=a&access_token=b&state=${state}`,
        `${p}#code=a&state=${state}`, "not a url", "", "javascript:alert(1)?code=a", `blob:${location.origin}/x?code=a`, `${p}?code=a&state=${encodeURIComponent("\u00e9")}`,
      ];
      for (const url of urls) {
        let promise: Promise<unknown> | undefined;
        expect(() => (promise = flow.handleCallback(url)), url.slice(0, 80)).not.toThrow();
        const outcome = await promise!.catch((error: unknown) => error);
        if (outcome instanceof Error) expect(outcome, url.slice(0, 80)).toBeInstanceOf(PkceError);
        else expect(outcome === null || typeof outcome === "object", url.slice(0, 80)).toBe(true);
        expect(typeof flow.isCallback(url)).toBe("boolean");
      }
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("abort per caller", () => {
  it("keeps the sign-in when StrictMode aborts the first effect and runs the second at once", async () => {
    const { flow, recorder, statuses } = setup(openRouterCase);
    const auth = await flow.authorize();
    const callback = openRouterCallback(auth);
    showInAddressBar(callback);
    const first = new AbortController();
    const one = flow.handleCallback(undefined, { signal: first.signal });
    first.abort(); // the effect's cleanup
    const two = flow.handleCallback(callback, { signal: new AbortController().signal });
    expect((await rejection(one)).code).toBe("aborted");
    await expect(two).resolves.toEqual(openRouterCase.result());
    expect(recorder.calls).toHaveLength(1);
    expect(recorder.calls[0]!.signal.aborted).toBe(false);
    expect(statuses).toEqual(["idle", "exchanging", "authorized"]);
  });

  it("detaches only the caller that aborts while others keep waiting", async () => {
    let answer!: (response: Response) => void;
    const { flow, recorder } = setup(openRouterCase, {}, () => new Promise<Response>((resolve) => (answer = resolve)));
    const callback = openRouterCallback(await flow.authorize());
    const a = new AbortController();
    const first = flow.handleCallback(callback, { signal: a.signal });
    const second = flow.handleCallback(callback);
    await recorder.nextCall();
    a.abort();
    expect((await rejection(first)).code).toBe("aborted");
    expect(recorder.calls[0]!.signal.aborted).toBe(false);
    answer(openRouterCase.success());
    await expect(second).resolves.toEqual(openRouterCase.result());
    expect(flow.status).toBe("authorized");
  });

  it("aborts the request when every waiting caller has aborted", async () => {
    const { flow, recorder } = setup(openRouterCase, {}, (call) => hang(call.signal));
    const callback = openRouterCallback(await flow.authorize());
    const [a, b] = [new AbortController(), new AbortController()];
    const first = flow.handleCallback(callback, { signal: a.signal });
    const second = flow.handleCallback(callback, { signal: b.signal });
    await recorder.nextCall();
    a.abort();
    b.abort();
    const errors = await Promise.all([rejection(first), rejection(second)]);
    expect(errors.map((e) => e.code)).toEqual(["aborted", "aborted"]);
    expect(recorder.calls[0]!.signal.aborted).toBe(true);
    expect(flow.snapshot().error?.code).toBe("aborted");
  });

  it.each([{}, { aborted: true }, "abort"])("refuses the signal %j with invalid_argument before anything is consumed, cleaned or sent", async (signal) => {
    const { flow, recorder } = setup(oauth2Case);
    const auth = await flow.authorize();
    const before = stored();
    const callback = oauth2Callback(auth);
    showInAddressBar(callback);
    const error = await rejection(flow.handleCallback(undefined, { signal: signal as unknown as AbortSignal }));
    expect(error.code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
    expect(location.href).toBe(callback);
    await expect(flow.handleCallback()).resolves.toEqual(oauth2Case.result());
  });

  it("takes null options as none in authorize, start and handleCallback", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize(null as never);
    showInAddressBar(oauth2Callback(auth));
    await expect(flow.handleCallback(undefined, null as never)).resolves.toEqual(oauth2Case.result());
  });

  it("rejects an already-aborted signal before anything is consumed, cleaned or sent", async () => {
    const { flow, recorder, statuses } = setup(oauth2Case);
    const auth = await flow.authorize();
    const before = stored();
    const callback = oauth2Callback(auth);
    showInAddressBar(callback);
    const error = await rejection(flow.handleCallback(undefined, { signal: AbortSignal.abort() }));
    expect(error.code).toBe("aborted");
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
    expect(location.href).toBe(callback);
    expect(statuses).toEqual(["idle"]);
    // The real call afterwards still finishes the sign-in.
    await expect(flow.handleCallback()).resolves.toEqual(oauth2Case.result());
  });
});

describe("flows of two providers on one page", () => {
  it("leaves a stateless OpenRouter callback to the OpenRouter flow: the oauth2 flow resolves null", async () => {
    const recorder = fetchRecorder(() => openRouterCase.success());
    const router = createFlow(openRouterProvider(), { fetch: recorder.fetch });
    const generic = createFlow(oauth2Provider(), { fetch: recorder.fetch });
    await router.authorize();
    await generic.authorize();
    const callback = `${pageUrl()}?keep=1&code=${CODE}-two-flows`;
    expect(await generic.handleCallback(callback)).toBeNull();
    await expect(router.handleCallback(callback)).resolves.toEqual(openRouterCase.result());
    expect(recorder.calls).toHaveLength(1);
  });

  it("never sends a stateless callback that carries another server's iss to OpenRouter", async () => {
    const { flow, recorder } = setup(openRouterCase);
    await flow.authorize();
    const before = stored();
    expect(await flow.handleCallback(`${pageUrl()}?keep=1&code=${CODE}&iss=${encodeURIComponent(AS)}`)).toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
  });

  it("rejects a stateless callback whose only transaction expired with expired, cleaning and removing it", async () => {
    const { flow, recorder } = setup(openRouterCase, { ttlMs: 1000 });
    await flow.authorize();
    showInAddressBar(`${pageUrl()}?keep=1&code=${CODE}-expired`);
    vi.useFakeTimers({ now: Date.now() + 5000, toFake: ["Date"] });
    const error = await rejection(flow.handleCallback());
    expect(error.code).toBe("expired");
    expect(location.search).toBe("?keep=1");
    expect(stored()).toEqual([]);
    expect(recorder.calls).toHaveLength(0);
  });
});

/**
 * Spies on history.replaceState as every browser behaves (happy-dom does not): a URL that resolves,
 * against the document's base URL, to another origin throws a SecurityError. Gives the URLs passed.
 */
function browserLikeReplaceState(): string[] {
  const original = history.replaceState.bind(history);
  const targets: string[] = [];
  vi.spyOn(history, "replaceState").mockImplementation((data, unused, url) => {
    targets.push(String(url));
    if (url != null && new URL(String(url), document.baseURI).origin !== location.origin) throw new DOMException("cross-origin URL", "SecurityError");
    original(data, unused, url);
  });
  return targets;
}

describe("the address bar", () => {
  it("drops OpenID Connect Session Management's session_state with the other callback parameters", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    showInAddressBar(`${oauth2Callback(auth)}&session_state=abc.def`.replace("#section", "") + "#section");
    await flow.handleCallback();
    expect(location.search + location.hash).toBe("?keep=1#section");
  });

  it("cleans a page whose path starts with // (a scheme-relative path) with an absolute URL on this origin", async () => {
    const page = `${location.origin}//evil.example/cb`;
    const { flow } = setup({ ...oauth2Case, provider: () => oauth2Provider({ redirectUri: page }) });
    const auth = await flow.authorize();
    history.replaceState(null, "", oauth2Callback(auth));
    const targets = browserLikeReplaceState();
    await expect(flow.handleCallback()).resolves.toEqual(oauth2Case.result());
    expect(targets).toEqual([`${page}?keep=1#section`]);
    expect(location.href).toBe(`${page}?keep=1#section`);
  });

  it("cleans against the page, not a <base href> on another origin (assets on a CDN)", async () => {
    const { flow } = setup(oauth2Case);
    const auth = await flow.authorize();
    showInAddressBar(oauth2Callback(auth));
    const base = document.createElement("base");
    base.href = "https://cdn.example/app/";
    document.head.append(base);
    try {
      expect(document.baseURI).toBe("https://cdn.example/app/");
      const targets = browserLikeReplaceState();
      await expect(flow.handleCallback()).resolves.toEqual(oauth2Case.result());
      expect(targets).toEqual([`${pageUrl()}?keep=1#section`]);
      expect(location.search).toBe("?keep=1");
    } finally {
      base.remove();
    }
  });

  it.each([
    { rule: "rule 1 (pending): the sign-in goes on", query: (auth?: URL) => oauth2Callback(auth!), outcome: "result" },
    { rule: "rule 4 (finished)", query: () => `${pageUrl()}?code=${CODE}&state=finished`, outcome: "no_transaction" },
    { rule: "rule 0 (a popup callback)", query: () => `${pageUrl()}?code=${CODE}&state=pkce-popup.${"B".repeat(43)}`, outcome: "null" },
  ])("survives a replaceState that throws on $rule: never a synchronous throw or a raw DOMException", async ({ query, outcome }) => {
    vi.stubGlobal("close", () => {});
    vi.stubGlobal("BroadcastChannel", undefined);
    try {
      const { flow, recorder } = setup(oauth2Case);
      const href = query(outcome === "result" ? await flow.authorize() : undefined);
      showInAddressBar(href);
      vi.spyOn(history, "replaceState").mockImplementation(() => {
        throw new DOMException("Attempt to use history.replaceState() more than 100 times per 10 seconds", "SecurityError");
      });
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = flow.handleCallback())).not.toThrow();
      const settled = await promise!.then(
        (value) => (value === null ? "null" : "result"),
        (error: unknown) => (error instanceof PkceError ? error.code : `raw ${String(error)}`),
      );
      expect(settled).toBe(outcome);
      expect(recorder.calls).toHaveLength(outcome === "result" ? 1 : 0);
      // Best effort: the address bar keeps what could not be removed.
      expect(location.href).toBe(href);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("the callback must come back to its transaction's redirect URI (mix-up, RFC 9700 4.4.2)", () => {
  /** A page next to the test page, on this origin. */
  const sibling = (name: string) => new URL(name, pageUrl()).href;
  const server = (host: string, redirectUri: string) => oauth2Provider({ authorizationEndpoint: `https://${host}/authorize`, tokenEndpoint: `https://${host}/token`, redirectUri });

  it("refuses a callback that came back to another server's redirect URI with this flow's state: invalid_callback naming both pages, removed, cleaned, nothing sent", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const honest = createFlow(server("honest.example", sibling("cb-honest")), { fetch: recorder.fetch });
    const attacker = createFlow(server("attacker.example", sibling("cb-attacker")), { fetch: recorder.fetch });
    const statuses: FlowStatus[] = [];
    attacker.subscribe((snapshot) => statuses.push(snapshot.status));
    // The user picked the attacker's server, which sent them on to the honest one with this state;
    // the honest server answers on its own redirect URI, where the app handles both flows.
    const state = (await attacker.authorize()).searchParams.get("state")!;
    const [tx] = stored();
    showInAddressBar(`${sibling("cb-honest")}?code=${CODE}&keep=1&state=${state}#top`);
    const [h, a] = await Promise.allSettled([honest.handleCallback(), attacker.handleCallback()]);
    expect(h).toEqual({ status: "fulfilled", value: null });
    expect(a.status).toBe("rejected");
    const error = (a as PromiseRejectedResult).reason as PkceError;
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("invalid_callback");
    expect(error.message).toContain(sibling("cb-honest"));
    expect(error.message).toContain(sibling("cb-attacker"));
    expect(error.message).not.toContain("keep=1");
    expectNoSecrets(error, attacker, tx!);
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual([]);
    expect(location.href).toBe(`${sibling("cb-honest")}?keep=1#top`);
    expect(statuses).toEqual(["failed"]);
    expect(attacker.snapshot().error).toBe(error);
  });

  it("leaves a stateless ?code= on a page other than the OpenRouter callback URL alone (rule 5 then 6): null, the sign-in kept", async () => {
    const { flow, recorder, statuses } = setup(openRouterCase);
    await flow.authorize();
    const before = stored();
    // The app's own link, say an invite, on a page that runs handleCallback() like every page.
    await expect(flow.handleCallback(`${sibling("invite")}?code=WELCOME10`)).resolves.toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(stored()).toEqual(before);
    expect(statuses).toEqual(["idle"]);
    // The real callback still finishes it.
    await expect(flow.handleCallback(`${pageUrl()}?code=${CODE}`)).resolves.toEqual(openRouterCase.result());
  });

  it("judges by the redirect URI stored in the transaction, not the one the flow is configured with now", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    // Same server and client (one provider id), two redirect URIs.
    const a = createFlow(oauth2Provider({ redirectUri: sibling("cb-a") }), { fetch: recorder.fetch });
    const b = createFlow(oauth2Provider({ redirectUri: sibling("cb-b") }), { fetch: recorder.fetch });
    const first = new URL(oauth2Callback(await a.authorize()));
    const second = new URL(oauth2Callback(await a.authorize()));
    second.pathname = new URL(sibling("cb-b")).pathname;
    expect((await rejection(b.handleCallback(second))).code).toBe("invalid_callback");
    await expect(b.handleCallback(first)).resolves.toEqual(oauth2Case.result());
    expect(recorder.calls).toHaveLength(1);
    expect(new URLSearchParams(await recorder.calls[0]!.body).get("redirect_uri")).toBe(sibling("cb-a"));
  });

  it("gives two calls of the same tick (StrictMode) the same refusal, sending nothing", async () => {
    const { flow, recorder } = setup(oauth2Case);
    const callback = new URL(oauth2Callback(await flow.authorize()));
    callback.pathname += "-elsewhere";
    const [x, y] = await Promise.allSettled([flow.handleCallback(callback), flow.handleCallback(callback)]);
    expect(x.status).toBe("rejected");
    expect((x as PromiseRejectedResult).reason).toMatchObject({ code: "invalid_callback" });
    expect(y).toEqual(x);
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("flow objects over the same storage share an exchange", () => {
  it("shares one request between a flow given sessionStorage and one using the default, from the address bar", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const explicit = createFlow(oauth2Case.provider(), { storage: sessionStorage, fetch: recorder.fetch });
    const implicit = createFlow(oauth2Case.provider(), { fetch: recorder.fetch });
    showInAddressBar(oauth2Callback(await explicit.authorize()));
    const [a, b] = await Promise.allSettled([explicit.handleCallback(), implicit.handleCallback()]);
    expect(recorder.calls).toHaveLength(1);
    expect(a).toEqual({ status: "fulfilled", value: oauth2Case.result() });
    expect(b).toEqual(a);
    expect(implicit.status).toBe("authorized");
  });

  it("shares one pasted code between a flow given a sessionStorage getter and one using the default", async () => {
    const recorder = fetchRecorder(() => json(200, { key: KEY, user_id: "u" }));
    const headless = () => openRouter({ headless: true, baseUrl: OPENROUTER });
    const implicit = createFlow(headless(), { fetch: recorder.fetch });
    const getter = createFlow(headless(), { storage: (() => sessionStorage) as unknown as StorageLike, fetch: recorder.fetch });
    await implicit.authorize();
    const [a, b] = await Promise.allSettled([implicit.exchangeCode(CODE), getter.exchangeCode(CODE)]);
    expect(recorder.calls).toHaveLength(1);
    expect(a.status).toBe("fulfilled");
    expect(b).toEqual(a);
  });

  it("shares one pasted code between a flow given sessionStorage and one using the default", async () => {
    const recorder = fetchRecorder(() => json(200, { key: KEY, user_id: "u" }));
    const headless = () => openRouter({ headless: true, baseUrl: OPENROUTER });
    const explicit = createFlow(headless(), { storage: sessionStorage, fetch: recorder.fetch });
    const implicit = createFlow(headless(), { fetch: recorder.fetch });
    await explicit.authorize();
    const [a, b] = await Promise.allSettled([explicit.exchangeCode(CODE), implicit.exchangeCode(CODE)]);
    expect(recorder.calls).toHaveLength(1);
    expect(a.status).toBe("fulfilled");
    expect(b).toEqual(a);
  });
});

describe("flows that share no transaction never share an exchange", () => {
  const sibling = (name: string) => new URL(name, pageUrl()).href;

  it("a flow under another prefix, on its own redirect URI, resolves null for a callback it holds no transaction for", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const work = createFlow(oauth2Provider({ redirectUri: sibling("cb-work") }), { keyPrefix: "work:", fetch: recorder.fetch });
    const personal = createFlow(oauth2Provider({ redirectUri: sibling("cb-personal") }), { keyPrefix: "personal:", fetch: recorder.fetch });
    const callback = oauth2Callback(await work.authorize());
    // Both flows handle the page's callback on load, work first: its exchange is in flight when
    // the personal flow looks.
    const [w, p] = await Promise.all([work.handleCallback(callback), personal.handleCallback(callback)]);
    expect(w).toEqual(oauth2Case.result());
    expect(p).toBeNull();
    expect(personal.status).toBe("idle");
    expect(recorder.calls).toHaveLength(1);
  });

  it.each([
    { what: "another key prefix", options: (storage: StorageLike) => [{ storage, keyPrefix: "work:" }, { storage, keyPrefix: "personal:" }] },
    { what: "another storage", options: (storage: StorageLike) => [{ storage }, { storage: new MemoryStorage() }] },
  ])("a flow under $what on the same redirect URI never resolves the other's result (it answers rule 4)", async ({ options }) => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const [mine, other] = options(new MemoryStorage()).map((o) => createFlow(oauth2Provider(), { ...o, fetch: recorder.fetch }));
    const callback = oauth2Callback(await mine!.authorize());
    const [m, o] = await Promise.allSettled([mine!.handleCallback(callback), other!.handleCallback(callback)]);
    expect(m).toEqual({ status: "fulfilled", value: oauth2Case.result() });
    expect(o.status).toBe("rejected");
    expect((o as PromiseRejectedResult).reason).toMatchObject({ code: "no_transaction" });
    expect(other!.snapshot().status).toBe("failed");
    expect(recorder.calls).toHaveLength(1);
  });

  it("a headless flow under another prefix never joins another's exchangeCode", async () => {
    const recorder = fetchRecorder(() => json(200, { key: KEY, user_id: "u" }));
    const headless = () => openRouter({ baseUrl: OPENROUTER, headless: true });
    const mine = createFlow(headless(), { keyPrefix: "a:", fetch: recorder.fetch });
    const other = createFlow(headless(), { keyPrefix: "b:", fetch: recorder.fetch });
    await mine.authorize();
    const [m, o] = await Promise.allSettled([mine.exchangeCode(CODE), other.exchangeCode(CODE)]);
    expect(m).toMatchObject({ status: "fulfilled", value: { key: KEY } });
    expect((o as PromiseRejectedResult).reason).toMatchObject({ code: "no_transaction" });
    expect(recorder.calls).toHaveLength(1);
  });
});

describe("storages of the app's own", () => {
  it("completes with a storage whose getItem answers undefined for a key it does not hold", async () => {
    const data = new Map<string, string>();
    const storage: StorageLike = {
      get length() {
        return data.size;
      },
      key: (i) => [...data.keys()][i] ?? null,
      getItem: (k) => data.get(k) as string | null,
      setItem: (k, v) => void data.set(k, String(v)),
      removeItem: (k) => void data.delete(k),
    };
    const recorder = fetchRecorder(() => oauth2Case.success());
    const flow = createFlow(oauth2Case.provider(), { storage, fetch: recorder.fetch });
    await expect(flow.handleCallback(oauth2Callback(await flow.authorize()))).resolves.toEqual(oauth2Case.result());
    expect(recorder.calls).toHaveLength(1);
    expect(data.size).toBe(0);
  });
});

describe("replay protection fails closed", () => {
  /** Storage whose removeItem throws, as a locked-down one. */
  class ThrowingRemoveStorage extends MemoryStorage {
    override removeItem(): void {
      throw new DOMException("The operation is insecure.", "SecurityError");
    }
  }
  /** Storage whose removeItem silently does nothing. */
  class IgnoringRemoveStorage extends MemoryStorage {
    override removeItem(): void {}
  }

  it.each([
    { what: "removeItem throws", storage: () => new ThrowingRemoveStorage() },
    { what: "removeItem does nothing", storage: () => new IgnoringRemoveStorage() },
  ])("rejects storage_unavailable before anything is sent when $what, on the first load and on a reload", async ({ storage: make }) => {
    const storage = make();
    const { flow, recorder, statuses } = setup(oauth2Case, { storage });
    const auth = await flow.authorize();
    const tx = stored(storage)[0]!;
    const callback = oauth2Callback(auth);
    const error = await rejection(flow.handleCallback(callback));
    expect(error.code).toBe("storage_unavailable");
    expectNoSecrets(error, flow, tx);
    expect(statuses).toEqual(["idle", "failed"]);
    // A reload of the same callback page: a new flow object over the same storage.
    const again = createFlow(oauth2Provider(), { storage, fetch: recorder.fetch });
    expect((await rejection(again.handleCallback(callback))).code).toBe("storage_unavailable");
    expect(recorder.calls).toHaveLength(0);
  });

  it("exchangeCode rejects storage_unavailable, sending nothing, when the transaction cannot be removed", async () => {
    const recorder = fetchRecorder(() => json(200, { key: KEY, user_id: "u" }));
    const flow = createFlow(openRouter({ baseUrl: OPENROUTER, headless: true }), { storage: new IgnoringRemoveStorage(), fetch: recorder.fetch });
    await flow.authorize();
    expect((await rejection(flow.exchangeCode(CODE))).code).toBe("storage_unavailable");
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("errors reach the snapshot", () => {
  it("sets failed with the error when start() cannot make a challenge", async () => {
    const navigate = vi.fn();
    const { flow, statuses } = setup(oauth2Case, { navigate });
    const real = globalThis.crypto;
    // An insecure context: random values but no crypto.subtle.
    vi.stubGlobal("crypto", { getRandomValues: real.getRandomValues.bind(real) });
    const error = await rejection(flow.start()).finally(() => vi.unstubAllGlobals());
    expect(error.code).toBe("crypto_unavailable");
    expect(flow.snapshot()).toEqual({ status: "failed", error });
    expect(statuses).toEqual(["idle", "failed"]);
    expect(navigate).not.toHaveBeenCalled();
  });

  it("sets failed when a per-request parameter is refused, storing nothing", async () => {
    const { provider } = recordingProvider();
    const flow = createFlow(provider);
    const error = await rejection(flow.authorize({ params: { state: "x" } }));
    expect(error.code).toBe("invalid_argument");
    expect(flow.snapshot().error).toBe(error);
    expect(stored()).toEqual([]);
  });
});

describe("back/forward cache", () => {
  it("returns from redirecting to idle when the page comes back from the cache, keeping the transaction", async () => {
    const { flow, statuses } = setup(oauth2Case, { navigate: () => {} });
    await flow.start();
    const before = stored();
    const event = new Event("pageshow");
    Object.defineProperty(event, "persisted", { value: true });
    window.dispatchEvent(event);
    expect(statuses).toEqual(["idle", "redirecting", "idle"]);
    expect(stored()).toEqual(before);
  });

  it("stays redirecting on a pageshow that is not a restore from the cache", async () => {
    const { flow } = setup(oauth2Case, { navigate: () => {} });
    await flow.start();
    window.dispatchEvent(new Event("pageshow"));
    expect(flow.status).toBe("redirecting");
  });
});

describe("nonce and per-request parameters", () => {
  it("makes a fresh nonce per transaction for a provider that asks, stores it and gives it back to parseResult", async () => {
    const { provider, given } = recordingProvider({ nonce: true });
    const recorder = fetchRecorder(() => json(200, { ok: 1 }));
    const flow = createFlow(provider, { fetch: recorder.fetch });
    const auth = await flow.authorize({ params: { login_hint: "ada", max_age: 0, prompt: true } });
    await flow.authorize();
    const [a, b] = given;
    expect(a!.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b!.nonce).not.toBe(a!.nonce);
    expect(a!.params).toEqual({ login_hint: "ada", max_age: 0, prompt: true });
    const tx = stored().find((t) => t.state === auth.searchParams.get("state"))!;
    expect(tx.nonce).toBe(a!.nonce);
    const result = await flow.handleCallback(`${pageUrl()}?code=c&state=${tx.state}`);
    expect(result).toEqual({ body: { ok: 1 }, nonce: a!.nonce });
  });

  it("stores no nonce for a provider that does not ask", async () => {
    const { provider, given } = recordingProvider();
    await createFlow(provider).authorize();
    expect(given[0]!.nonce).toBeUndefined();
    expect(stored()[0]).not.toHaveProperty("nonce");
  });
});

describe("exchangeCode (headless)", () => {
  const headless = () => recordingProvider({ headless: true, redirectUri: "" }).provider;

  it("exchanges a pasted code, trimmed, against the newest transaction, removing every one first", async () => {
    const recorder = fetchRecorder(() => json(200, { key: "k" }));
    const flow = createFlow(headless(), { fetch: recorder.fetch });
    const statuses: FlowStatus[] = [];
    flow.subscribe((s) => statuses.push(s.status));
    await flow.authorize();
    vi.useFakeTimers({ now: Date.now() + 1000, toFake: ["Date"] });
    await flow.authorize();
    const newest = stored().sort((a, b) => b.createdAt - a.createdAt)[0]!;
    const result = await flow.exchangeCode(`  \n${CODE}\t `);
    expect(result.body).toEqual({ key: "k" });
    expect(recorder.calls).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(await recorder.calls[0]!.body))).toEqual({ code: CODE, code_verifier: newest.codeVerifier });
    expect(stored()).toEqual([]);
    expect(statuses).toEqual(["exchanging", "authorized"]);
  });

  it("refuses a signal that is no AbortSignal with invalid_argument, also when joining a shared exchange", async () => {
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const flow = createFlow(headless(), { fetch: recorder.fetch });
    await flow.authorize();
    expect((await rejection(flow.exchangeCode(CODE, { signal: {} as AbortSignal }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
    const first = flow.exchangeCode(CODE);
    expect((await rejection(flow.exchangeCode(CODE, { signal: "x" as unknown as AbortSignal }))).code).toBe("invalid_argument");
    answer(json(200, { key: "k" }));
    expect((await first).body).toEqual({ key: "k" });
    expect(recorder.calls).toHaveLength(1);
  });

  it("shares one request between two calls with the same code", async () => {
    const recorder = fetchRecorder(() => json(200, { key: "k" }));
    const flow = createFlow(headless(), { fetch: recorder.fetch });
    await flow.authorize();
    const [a, b] = await Promise.all([flow.exchangeCode(CODE), flow.exchangeCode(CODE)]);
    expect(a).toBe(b);
    expect(recorder.calls).toHaveLength(1);
  });

  it.each([
    { what: "an empty code", code: "   " },
    { what: "a control character", code: "abc\u0000def" },
    { what: "an inner newline", code: "abc\ndef" },
    { what: "non-ASCII", code: "abcé" },
    { what: "8 KiB + 1", code: "a".repeat(8193) },
    { what: "not a string", code: 42 as unknown as string },
  ])("refuses $what with invalid_argument, keeping the transaction for a corrected paste", async ({ code }) => {
    const recorder = fetchRecorder(() => json(200, { key: "k" }));
    const flow = createFlow(headless(), { fetch: recorder.fetch });
    await flow.authorize();
    const before = stored();
    const error = await rejection(flow.exchangeCode(code));
    expect(error.code).toBe("invalid_argument");
    expect(flow.snapshot().error).toBe(error);
    expect(stored()).toEqual(before);
    expect(recorder.calls).toHaveLength(0);
    expect(errorSurfaces(error).join(" ")).not.toContain("abc");
    await expect(flow.exchangeCode("a".repeat(8192))).resolves.toMatchObject({ body: { key: "k" } });
  });

  it("answers no_transaction when nothing is pending, and expired (removing it) when the newest expired", async () => {
    const flow = createFlow(headless(), { fetch: fetchRecorder().fetch, ttlMs: 1000 });
    expect((await rejection(flow.exchangeCode(CODE))).code).toBe("no_transaction");
    await flow.authorize();
    vi.useFakeTimers({ now: Date.now() + 5000, toFake: ["Date"] });
    expect((await rejection(flow.exchangeCode(CODE))).code).toBe("expired");
    expect(stored()).toEqual([]);
    expect(flow.status).toBe("failed");
  });

  it("is invalid_config for a provider with a callback, and start() is invalid_config for a headless one", async () => {
    const { flow } = setup(openRouterCase);
    await flow.authorize();
    expect((await rejection(flow.exchangeCode(CODE))).code).toBe("invalid_config");
    const navigate = vi.fn();
    const headlessFlow = createFlow(headless(), { navigate });
    expect((await rejection(headlessFlow.start())).code).toBe("invalid_config");
    expect(navigate).not.toHaveBeenCalled();
  });
});

describe("returnTo (property)", () => {
  it.each(["/x/..//evil.example", "/%2e//evil.example", "/%2E%2E//evil.example/", `${"https://"}HOST//evil.example`, "/\\evil.example", "\\/evil.example", "/.//evil.example", "///evil.example"])(
    "refuses %s, which would resolve to another origin once stored",
    async (given) => {
      const { flow } = setup(oauth2Case);
      const returnTo = given.replace("HOST", location.host);
      expect((await rejection(flow.authorize({ returnTo }))).code).toBe("invalid_argument");
      expect(stored()).toEqual([]);
    },
  );

  it.each([
    "//evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\t/evil.example", "/\n/evil.example", " //evil.example",
    "\u0000//evil.example", "/%2f/evil.example", "/%2F%2Fevil.example", "/%5c/evil.example", "/.//evil.example", "/x/..//evil.example",
    "/%2e//evil.example", "https:evil.example", "https:/evil.example", "https:\\\\evil.example", "http://evil.example", "javascript:alert(1)",
    "\uff0f\uff0fevil.example", "/\u3002/evil", "///evil.example", "https://app//evil", "ORIGIN//evil.example", "ORIGIN/\\evil.example",
    "ORIGIN@evil.example", "data:text/html,x", "blob:https://evil.example/x", "?//evil", "#//evil",
  ])("refuses %j or stores it as a path that stays on the origin, resolved against the page or the origin", async (given) => {
    const { flow } = setup(oauth2Case);
    const returnTo = given.replace("ORIGIN", location.origin);
    const outcome = await flow.authorize({ returnTo }).then(
      () => "stored",
      (error: unknown) => isPkceErrorCode(error),
    );
    const kept = stored().map((tx) => tx.returnTo!);
    expect(outcome === "stored" ? kept.length : outcome).toBe(outcome === "stored" ? 1 : "invalid_argument");
    for (const path of kept) {
      expect(path).toMatch(/^\/(?![/\\])/);
      expect(new URL(path, location.href).origin).toBe(location.origin);
      expect(new URL(path, "https://app.example/deep/page").origin).toBe("https://app.example");
    }
  });

  it("never stores or snapshots a returnTo that resolves off-origin, whatever string comes in", async () => {
    const flow = createFlow(oauth2Provider(), { navigate: () => {} });
    const pieces = fc.constantFrom("/", "//", "\\", "..", ".", "%2e", "%2E", "%2f", "%5c", "evil.example", "a", "?", "#", "@", ":", location.origin, "https://evil.example", "\t", "\n", " ");
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.array(pieces, { maxLength: 8 }).map((p) => p.join(""))), async (returnTo) => {
        sessionStorage.clear();
        try {
          await flow.start({ returnTo });
        } catch (error) {
          expect(isPkceErrorCode(error)).toBe("invalid_argument");
          expect(keysWithPrefix(sessionStorage, PREFIX)).toEqual([]);
          return;
        }
        const kept = [stored()[0]!.returnTo!, flow.snapshot().returnTo!];
        for (const path of kept) {
          expect(path).toMatch(/^\/(?![/\\])/);
          expect(new URL(path, location.origin).origin).toBe(location.origin);
          expect(new URL(path, "https://app.example/deep/page").origin).toBe("https://app.example");
        }
      }),
      { numRuns: 300 },
    );
  });
});

function isPkceErrorCode(error: unknown): string | undefined {
  return error instanceof PkceError ? error.code : undefined;
}

describe("transactions are bound to their server", () => {
  it("never sends a transaction started against one oauth2 configuration to a flow configured with other endpoints", async () => {
    const recorder = fetchRecorder(() => oauth2Case.success());
    const production = createFlow(oauth2Provider({ issuer: AS }), { fetch: recorder.fetch });
    const staging = createFlow(oauth2Provider({ issuer: AS, tokenEndpoint: "https://staging.as.example/token" }), { fetch: recorder.fetch });
    const callback = oauth2Callback(await staging.authorize());
    expect(production.isCallback(callback)).toBe(false);
    expect(await production.handleCallback(callback)).toBeNull();
    expect(recorder.calls).toHaveLength(0);
    await staging.handleCallback(callback);
    expect(recorder.calls.map((call) => call.request.url)).toEqual(["https://staging.as.example/token"]);
  });
});

describe("isCallback only answers", () => {
  it("leaves a callback of a finished sign-in in the address bar; handleCallback then cleans it", async () => {
    const { flow } = setup(oauth2Case);
    const callback = `${pageUrl()}?keep=1&code=${CODE}&state=finished#top`;
    showInAddressBar(callback);
    expect(flow.isCallback()).toBe(false);
    expect(location.href).toBe(callback);
    expect(flow.status).toBe("idle");
    expect((await rejection(flow.handleCallback())).code).toBe("no_transaction");
    expect(location.search + location.hash).toBe("?keep=1#top");
  });
});
