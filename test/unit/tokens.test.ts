import { afterEach, describe, expect, it, vi } from "vitest";
import { TokenError, logoutUrl, oauth2, openRouter, refresh, revoke, userinfo } from "../../src/index.ts";
import type { OAuth2Provider, OAuth2Result } from "../../src/index.ts";
import { referenceChallenge } from "./helpers/reference.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, json, text } from "./helpers/fetch.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const ISSUER = "https://as.example";
const provider = oauth2({
  clientId: "my-spa",
  issuer: ISSUER,
  authorizationEndpoint: `${ISSUER}/authorize`,
  tokenEndpoint: `${ISSUER}/token`,
  redirectUri: "https://app.example/callback",
  scope: ["openid", "offline_access"],
  userinfoEndpoint: `${ISSUER}/me`,
  revocationEndpoint: `${ISSUER}/revoke`,
  endSessionEndpoint: `${ISSUER}/logout?tenant=a`,
});
const bare = oauth2({ clientId: "my-spa", authorizationEndpoint: `${ISSUER}/authorize`, tokenEndpoint: `${ISSUER}/token`, redirectUri: "https://app.example/callback" });
const OLD = "rt-old-7Hq~/+=";
const tokens = (extra: Record<string, unknown> = {}) => ({ access_token: "at-new", token_type: "Bearer", expires_in: 300, ...extra });
const form = async (body: Promise<string>) => Object.fromEntries(new URLSearchParams(await body));

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A stand-in for navigator.locks that logs every step, grants locks one at a time per name. */
/**
 * Web Locks as one lock manager shared by the "tabs" of a test: requests for one name run one at a
 * time; `query()` lists the held ones. The refresh lock's turns are logged as "lock" / "unlock";
 * the marks of spent tokens (names with " spent ") are listed in `marks`.
 */
function fakeLocks(log: string[]) {
  const queues = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return {
    names: [] as string[],
    marks: [] as string[],
    request(name: string, options: LockOptions | (() => Promise<unknown>), callback?: () => Promise<unknown>) {
      const body = (typeof options === "function" ? options : callback)!;
      const mark = name.includes(" spent ");
      (mark ? this.marks : this.names).push(name);
      const previous = queues.get(name) ?? Promise.resolve();
      const run = previous.then(async () => {
        held.add(name);
        if (!mark) log.push("lock");
        try {
          return await body();
        } finally {
          held.delete(name);
          if (!mark) log.push("unlock");
        }
      });
      queues.set(name, run.catch(() => {}));
      return run;
    },
    query: async () => ({ held: [...held].map((name) => ({ name })) }),
  };
}

/** The name of the lock that marks `token` as just spent: the provider's lock, " spent ", SHA-256. */
async function markOf(token: string): Promise<string> {
  return `pkce-flow refresh ${provider.id} spent ${await referenceChallenge(token)}`;
}

describe("refresh", () => {
  it("POSTs grant_type=refresh_token, the token and client_id as a form, safely, to the token endpoint", async () => {
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-new" })));
    const result = await refresh(provider, OLD, { fetch: recorder.fetch, scope: ["openid"] });
    expect(recorder.calls).toHaveLength(1);
    const [call] = recorder.calls;
    expect(call!.request.url).toBe(`${ISSUER}/token`);
    expect(call!.request.method).toBe("POST");
    expect(call!.request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(call!.init).toMatchObject({ redirect: "manual", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    expect(await form(call!.body)).toEqual({ grant_type: "refresh_token", refresh_token: OLD, client_id: "my-spa", scope: "openid" });
    expect(result).toMatchObject({ accessToken: "at-new", refreshToken: "rt-new", expiresIn: 300 });
    expect(result.expiresAt).toBeGreaterThan(Date.now());
  });

  it("keeps the refresh token it sent when the server does not rotate it", async () => {
    const recorder = fetchRecorder(() => json(200, tokens()));
    const result = await refresh(provider, OLD, { fetch: recorder.fetch });
    expect(result.refreshToken).toBe(OLD);
    expect(await form(recorder.calls[0]!.body)).not.toHaveProperty("scope");
  });

  it("gives no claims when the response has no ID token (the app keeps the earlier ones)", async () => {
    const recorder = fetchRecorder(() => json(200, tokens()));
    expect("claims" in (await refresh(provider, OLD, { fetch: recorder.fetch }))).toBe(false);
  });

  it("checks a new ID token without nonce, and its sub against the earlier claims", async () => {
    const earlier = goodClaims() as unknown as OAuth2Result["claims"] & object;
    const ok = fetchRecorder(() => json(200, tokens({ id_token: jwt(goodClaims({ nonce: undefined })) })));
    expect((await refresh(provider, OLD, { fetch: ok.fetch, claims: earlier })).claims?.sub).toBe("alice");

    const other = fetchRecorder(() => json(200, tokens({ id_token: jwt(goodClaims({ sub: "mallory", nonce: undefined })) })));
    expect((await rejection(refresh(provider, OLD, { fetch: other.fetch, claims: earlier }))).code).toBe("invalid_id_token");
    // Without the earlier claims, another sub is not compared.
    expect((await refresh(provider, OLD, { fetch: other.fetch })).claims?.sub).toBe("mallory");

    const audience = fetchRecorder(() => json(200, tokens({ id_token: jwt(goodClaims({ aud: "other" })) })));
    const error = await rejection(refresh(provider, OLD, { fetch: audience.fetch }));
    expect(error.code).toBe("invalid_id_token");
    expect(error.message).not.toContain(OLD);
  });

  it("sends one request for concurrent calls with the same token, and separate ones for different tokens", async () => {
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder((_, i) => (i === 0 ? new Promise<Response>((resolve) => (answer = resolve)) : json(200, tokens({ refresh_token: "rt-other" }))));
    const first = refresh(provider, OLD, { fetch: recorder.fetch });
    const second = refresh(provider, OLD, { fetch: recorder.fetch });
    const third = refresh(provider, "rt-different", { fetch: recorder.fetch });
    await recorder.nextCall();
    await Promise.resolve();
    expect(recorder.calls).toHaveLength(2);
    answer(json(200, tokens({ refresh_token: "rt-new" })));
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b);
    expect(a.refreshToken).toBe("rt-new");
    expect((await third).refreshToken).toBe("rt-other");
    // Finished requests are not cached: the next call sends again.
    await refresh(provider, OLD, { fetch: recorder.fetch });
    expect(recorder.calls).toHaveLength(3);
  });

  it("detaches an aborted caller while the shared request goes on for the others", async () => {
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const controller = new AbortController();
    const leaving = refresh(provider, OLD, { fetch: recorder.fetch, signal: controller.signal });
    const staying = refresh(provider, OLD, { fetch: recorder.fetch });
    await recorder.nextCall();
    controller.abort();
    expect((await rejection(leaving)).code).toBe("aborted");
    expect(recorder.calls[0]!.signal.aborted).toBe(false);
    answer(json(200, tokens({ refresh_token: "rt-new" })));
    expect((await staying).refreshToken).toBe("rt-new");
  });

  it("never cuts off a sent refresh: callers that abort stop waiting, and one that comes after gets the rotated token (StrictMode)", async () => {
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const one = new AbortController();
    const two = new AbortController();
    const calls = [refresh(provider, OLD, { fetch: recorder.fetch, signal: one.signal }), refresh(provider, OLD, { fetch: recorder.fetch, signal: two.signal })];
    await recorder.nextCall();
    one.abort();
    two.abort();
    for (const call of calls) expect((await rejection(call)).code).toBe("aborted");
    // The server has the token now and spends it as it answers: the request goes on.
    expect(recorder.calls[0]!.signal.aborted).toBe(false);
    // React StrictMode: the effect's cleanup aborted, the effect runs again at once.
    const again = refresh(provider, OLD, { fetch: recorder.fetch });
    answer(json(200, tokens({ refresh_token: "rt-rotated" })));
    expect(await again).toMatchObject({ refreshToken: "rt-rotated" });
    expect(recorder.calls).toHaveLength(1);
  });

  it("sends nothing when the signal aborts while the token function runs", async () => {
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-rotated" })));
    const controller = new AbortController();
    const read = async () => {
      controller.abort();
      return OLD;
    };
    expect((await rejection(refresh(provider, read, { fetch: recorder.fetch, signal: controller.signal }))).code).toBe("aborted");
    expect(recorder.calls).toHaveLength(0);
  });

  it("finishes and saves a refresh sent under the lock even when its caller aborts meanwhile", async () => {
    vi.stubGlobal("navigator", { locks: fakeLocks([]) });
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const saved: string[] = [];
    const controller = new AbortController();
    const pending = refresh(provider, () => OLD, { fetch: recorder.fetch, signal: controller.signal, save: (r) => void saved.push(r.refreshToken!) });
    await recorder.nextCall();
    controller.abort();
    expect((await rejection(pending)).code).toBe("aborted");
    answer(json(200, tokens({ refresh_token: "rt-rotated" })));
    await vi.waitFor(() => expect(saved).toEqual(["rt-rotated"]));
  });

  it("marks only a token the server replaced: without rotation the next refresh sends the same token at once", async () => {
    const locks = fakeLocks([]);
    vi.stubGlobal("navigator", { locks });
    const recorder = fetchRecorder(() => json(200, tokens()));
    const first = await refresh(provider, () => OLD, { fetch: recorder.fetch });
    expect(first.refreshToken).toBe(OLD);
    // No mark is held for OLD, so the next call does not wait for one (it would wait 10 s).
    expect(locks.marks).toEqual([]);
    await refresh(provider, () => OLD, { fetch: recorder.fetch });
    expect(recorder.calls).toHaveLength(2);
  });

  it("stops waiting on another tab's mark when its signal aborts, and sends nothing", async () => {
    const locks = fakeLocks([]);
    vi.stubGlobal("navigator", { locks });
    let release!: () => void;
    void locks.request(await markOf(OLD), () => new Promise<void>((resolve) => (release = resolve)));
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-2" })));
    const controller = new AbortController();
    let reads = 0;
    const pending = refresh(provider, () => (++reads === 2 && controller.abort(), OLD), { fetch: recorder.fetch, signal: controller.signal });
    expect((await rejection(pending)).code).toBe("aborted");
    release();
    expect(recorder.calls).toHaveLength(0);
  });

  it("checks each caller's earlier sub against a shared refresh's new ID token", async () => {
    let answer!: (response: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const a = refresh(provider, OLD, { fetch: recorder.fetch });
    const b = refresh(provider, OLD, { fetch: recorder.fetch, claims: goodClaims() as unknown as OAuth2Result["claims"] });
    await recorder.nextCall();
    answer(json(200, tokens({ id_token: jwt(goodClaims({ sub: "mallory", nonce: undefined })) })));
    expect((await a).claims).toMatchObject({ sub: "mallory" });
    const error = await rejection(b);
    expect(error.code).toBe("invalid_id_token");
    expect(error.message).toMatch(/sub differs/);
    expect(recorder.calls).toHaveLength(1);
  });

  it.each([{}, { aborted: false }, "signal"])("refuses the signal %j with invalid_argument, sending nothing", async (signal) => {
    const recorder = fetchRecorder(() => json(200, tokens()));
    expect((await rejection(refresh(provider, OLD, { fetch: recorder.fetch, signal: signal as unknown as AbortSignal }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });

  it("takes null options as none in refresh, revoke, userinfo and logoutUrl", async () => {
    const recorder = fetchRecorder((call) => json(200, call.request.url.endsWith("/me") ? { sub: "alice" } : tokens()));
    vi.stubGlobal("fetch", recorder.fetch);
    await expect(refresh(provider, OLD, null as never)).resolves.toMatchObject({ accessToken: "at-new" });
    await expect(revoke(provider, OLD, null as never)).resolves.toBeUndefined();
    await expect(userinfo(provider, "at-new", null as never)).resolves.toEqual({ sub: "alice" });
    expect(logoutUrl(provider, null as never).searchParams.get("client_id")).toBe("my-spa");
  });

  it("reads, sends and saves inside a Web Lock named after the provider when the token is a function", async () => {
    const log: string[] = [];
    const locks = fakeLocks(log);
    vi.stubGlobal("navigator", { locks });
    let stored = OLD;
    let n = 0;
    const recorder = fetchRecorder(async (call) => {
      log.push(`send ${(await form(call.body))["refresh_token"]}`);
      return json(200, tokens({ refresh_token: `rt-${++n}` }));
    });
    const save = async (result: OAuth2Result) => {
      await Promise.resolve();
      log.push(`save ${result.refreshToken}`);
      stored = result.refreshToken!;
    };
    const read = () => {
      log.push(`read ${stored}`);
      return stored;
    };
    // Two "tabs" sharing the stored token refresh at once.
    const [a, b] = await Promise.all([refresh(provider, read, { fetch: recorder.fetch, save }), refresh(provider, read, { fetch: recorder.fetch, save })]);
    expect(log).toEqual(["lock", `read ${OLD}`, `send ${OLD}`, "save rt-1", "unlock", "lock", "read rt-1", "send rt-1", "save rt-2", "unlock"]);
    expect([a.refreshToken, b.refreshToken]).toEqual(["rt-1", "rt-2"]);
    expect(locks.names).toEqual([`pkce-flow refresh ${provider.id}`, `pkce-flow refresh ${provider.id}`]);
    // Each spent token is marked before the next tab gets the lock.
    expect(locks.marks).toEqual([await markOf(OLD), await markOf("rt-1")]);
  });

  it("reads again while another tab's mark says the token it read was just spent (its storage has not caught up)", async () => {
    const log: string[] = [];
    const locks = fakeLocks(log);
    vi.stubGlobal("navigator", { locks });
    // The other tab spent OLD and still holds its mark; this tab's storage shows OLD for a while.
    let release!: () => void;
    void locks.request(await markOf(OLD), () => new Promise<void>((resolve) => (release = resolve)));
    let stored = OLD;
    let reads = 0;
    const recorder = fetchRecorder(async () => json(200, tokens({ refresh_token: "rt-2" })));
    const pending = refresh(provider, () => (++reads === 3 ? (stored = "rt-1") : stored), { fetch: recorder.fetch });
    const result = await pending;
    release();
    expect(reads).toBeGreaterThanOrEqual(3);
    expect((await form(recorder.calls[0]!.body))["refresh_token"]).toBe("rt-1");
    expect(recorder.calls).toHaveLength(1);
    expect(result.refreshToken).toBe("rt-2");
  });

  it("takes no lock for a token given as a string, and runs without one where Web Locks are missing", async () => {
    const log: string[] = [];
    const locks = fakeLocks(log);
    vi.stubGlobal("navigator", { locks });
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-new" })));
    const saved: string[] = [];
    await refresh(provider, OLD, { fetch: recorder.fetch, save: (r) => void saved.push(r.refreshToken!) });
    expect(locks.names).toEqual([]);
    vi.stubGlobal("navigator", {});
    await refresh(provider, () => OLD, { fetch: recorder.fetch, save: (r) => void saved.push(r.refreshToken!) });
    expect(saved).toEqual(["rt-new", "rt-new"]);
    expect(recorder.calls).toHaveLength(2);
  });

  it("rejects an already-aborted signal before reading, locking or sending anything", async () => {
    const log: string[] = [];
    const locks = fakeLocks(log);
    vi.stubGlobal("navigator", { locks });
    const recorder = fetchRecorder(() => json(200, tokens()));
    let read = 0;
    for (const token of [OLD, () => (read++, OLD)]) {
      expect((await rejection(refresh(provider, token, { fetch: recorder.fetch, signal: AbortSignal.abort() }))).code).toBe("aborted");
    }
    expect([recorder.calls.length, read, locks.names.length]).toEqual([0, 0, 0]);
  });

  it("rejects aborted while waiting for the lock", async () => {
    vi.stubGlobal("navigator", {
      locks: {
        request: (_name: string, options: LockOptions) =>
          new Promise((_, reject) => options.signal!.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
      },
    });
    const controller = new AbortController();
    const pending = refresh(provider, () => OLD, { signal: controller.signal, fetch: fetchRecorder().fetch });
    controller.abort();
    expect((await rejection(pending)).code).toBe("aborted");
  });

  it.each([null, undefined, ""])("refuses a token function that gives %j with invalid_argument, sending nothing", async (value) => {
    const recorder = fetchRecorder();
    expect((await rejection(refresh(provider, () => value, { fetch: recorder.fetch }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });

  it("reports a refusal as a TokenError naming the token endpoint, without the refresh token even when echoed", async () => {
    const recorder = fetchRecorder(() => json(400, { error: "invalid_grant", error_description: `grant for ${OLD} / ${encodeURIComponent(OLD)} revoked` }));
    const error = await rejection(refresh(provider, OLD, { fetch: recorder.fetch }));
    expect(error).toBeInstanceOf(TokenError);
    expect(error.message).toMatch(/^token endpoint: HTTP 400 \(invalid_grant/);
    expect((error as TokenError).error).toBe("invalid_grant");
    for (const text of [error.message, (error as TokenError).errorDescription ?? ""]) {
      expect(text).not.toContain(OLD);
      expect(text).not.toContain(encodeURIComponent(OLD));
    }
  });

  it("refuses an OpenRouter provider or an object that is no oauth2 provider with invalid_config", async () => {
    const router = openRouter({ callbackUrl: "https://app.example/" }) as unknown as OAuth2Provider;
    for (const wrong of [router, {} as OAuth2Provider, null as unknown as OAuth2Provider]) {
      expect((await rejection(refresh(wrong, OLD))).code).toBe("invalid_config");
      expect((await rejection(revoke(wrong, OLD))).code).toBe("invalid_config");
      expect((await rejection(userinfo(wrong, "at"))).code).toBe("invalid_config");
      expect(thrown(() => logoutUrl(wrong)).code).toBe("invalid_config");
    }
  });
});

describe("refresh: nothing of a refused answer is stored", () => {
  const earlier = goodClaims() as unknown as OAuth2Result["claims"]; // sub: "alice"
  const mallory = () => json(200, tokens({ refresh_token: "rt-mallory", id_token: jwt(goodClaims({ sub: "mallory", nonce: undefined })) }));

  it.each<[string, () => void]>([
    ["a token given as a string", () => {}],
    ["a token function without Web Locks", () => vi.stubGlobal("navigator", {})],
    ["a token function under the cross-tab lock", () => vi.stubGlobal("navigator", { locks: fakeLocks([]) })],
  ])("never saves tokens whose refreshed ID token names another user: %s", async (what, arrange) => {
    arrange();
    const recorder = fetchRecorder(mallory);
    const saved: string[] = [];
    const token = what.startsWith("a token given") ? OLD : () => OLD;
    const error = await rejection(refresh(provider, token, { fetch: recorder.fetch, claims: earlier, save: (r) => void saved.push(r.refreshToken!) }));
    expect(error.code).toBe("invalid_id_token");
    expect(saved).toEqual([]);
  });

  it("refuses a save that is not a function with invalid_argument before anything is sent", async () => {
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-rotated" })));
    expect((await rejection(refresh(provider, OLD, { fetch: recorder.fetch, save: "localStorage" as never }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("revoke", () => {
  it("POSTs token, token_type_hint and client_id to the revocation endpoint and resolves on 200 whatever the body", async () => {
    for (const answer of [() => new Response(null, { status: 200 }), () => text(200, "<html>ok</html>", "text/html"), () => json(200, { ok: true })]) {
      const recorder = fetchRecorder(answer);
      await expect(revoke(provider, OLD, { fetch: recorder.fetch, tokenTypeHint: "refresh_token" })).resolves.toBeUndefined();
      expect(recorder.calls[0]!.request.url).toBe(`${ISSUER}/revoke`);
      expect(recorder.calls[0]!.request.method).toBe("POST");
      expect(recorder.calls[0]!.init).toMatchObject({ redirect: "manual", credentials: "omit" });
      expect(await form(recorder.calls[0]!.body)).toEqual({ token: OLD, token_type_hint: "refresh_token", client_id: "my-spa" });
    }
  });

  it("reports a non-2xx answer as a TokenError naming the revocation endpoint, never with the token", async () => {
    const recorder = fetchRecorder(() => json(503, { error: "temporarily_unavailable", error_description: `cannot revoke ${OLD}` }));
    const error = await rejection(revoke(provider, OLD, { fetch: recorder.fetch }));
    expect(error).toBeInstanceOf(TokenError);
    expect(error.message).toMatch(/^revocation endpoint: HTTP 503 \(temporarily_unavailable/);
    expect(error.message).not.toContain(OLD);
    expect((error as TokenError).errorDescription).not.toContain(OLD);
  });

  it("refuses a redirect as invalid_response", async () => {
    const recorder = fetchRecorder(() => new Response(null, { status: 302, headers: { Location: "https://evil.example/" } }));
    expect((await rejection(revoke(provider, OLD, { fetch: recorder.fetch }))).code).toBe("invalid_response");
  });

  it("needs a revocation endpoint (invalid_config) and a token (invalid_argument), and sends nothing otherwise", async () => {
    const recorder = fetchRecorder();
    expect((await rejection(revoke(bare, OLD, { fetch: recorder.fetch }))).message).toMatch(/revocationEndpoint/);
    expect((await rejection(revoke(provider, "" as string, { fetch: recorder.fetch }))).code).toBe("invalid_argument");
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("userinfo", () => {
  const claims = goodClaims() as unknown as NonNullable<OAuth2Result["claims"]>;

  it("GETs the userinfo endpoint with the access token as Bearer and returns the JSON object", async () => {
    const recorder = fetchRecorder(() => json(200, { sub: "alice", email: "alice@example.test" }));
    expect(await userinfo(provider, "at-1", { fetch: recorder.fetch, claims })).toEqual({ sub: "alice", email: "alice@example.test" });
    const { request, init } = recorder.calls[0]!;
    expect(request.url).toBe(`${ISSUER}/me`);
    expect(request.method).toBe("GET");
    expect(request.headers.get("authorization")).toBe("Bearer at-1");
    expect(init).toMatchObject({ redirect: "manual", credentials: "omit", cache: "no-store" });
  });

  it.each([
    ["a sub other than the ID token's", { sub: "mallory" }],
    ["no sub", { email: "alice@example.test" }],
    ["an empty sub", { sub: "" }],
  ])("refuses an answer with %s as invalid_response", async (_, body) => {
    const recorder = fetchRecorder(() => json(200, body));
    expect((await rejection(userinfo(provider, "at-1", { fetch: recorder.fetch, claims }))).code).toBe("invalid_response");
  });

  it("refuses a signed (JWT) answer it cannot read as invalid_response", async () => {
    const recorder = fetchRecorder(() => text(200, jwt({ sub: "alice" }), "application/jwt"));
    expect((await rejection(userinfo(provider, "at-1", { fetch: recorder.fetch }))).code).toBe("invalid_response");
  });

  it("reports 401 as a TokenError whose message names the userinfo endpoint", async () => {
    const recorder = fetchRecorder(() => new Response(null, { status: 401, headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } }));
    const error = await rejection(userinfo(provider, "at-1", { fetch: recorder.fetch }));
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).status).toBe(401);
    expect(error.message).toBe("userinfo endpoint: HTTP 401");
  });

  it.each(["at\nx", "at x", "at\u2028", "\u00e4t", ""])("refuses an access token a header cannot carry (%j) with invalid_argument, without the token", async (token) => {
    const recorder = fetchRecorder();
    const error = await rejection(userinfo(provider, token, { fetch: recorder.fetch }));
    expect(error.code).toBe("invalid_argument");
    if (token) expect(error.message).not.toContain(token);
    expect(recorder.calls).toHaveLength(0);
  });

  it("needs a userinfo endpoint", async () => {
    expect((await rejection(userinfo(bare, "at-1"))).code).toBe("invalid_config");
  });
});

describe("logoutUrl", () => {
  it("builds the end-session URL with client_id and the given hints, keeping the endpoint's query", () => {
    const url = logoutUrl(provider, { idTokenHint: "h.p.s", postLogoutRedirectUri: "https://app.example/bye", state: "s1" });
    expect(url).toBeInstanceOf(URL);
    expect(url.origin + url.pathname).toBe(`${ISSUER}/logout`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: "a", client_id: "my-spa", id_token_hint: "h.p.s", post_logout_redirect_uri: "https://app.example/bye", state: "s1" });
    expect(Object.fromEntries(logoutUrl(provider).searchParams)).toEqual({ tenant: "a", client_id: "my-spa" });
  });

  it("needs an end-session endpoint and string options", () => {
    expect(thrown(() => logoutUrl(bare)).code).toBe("invalid_config");
    expect(thrown(() => logoutUrl(provider, { state: 5 as unknown as string })).code).toBe("invalid_argument");
  });
});
