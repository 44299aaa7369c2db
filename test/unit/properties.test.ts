// Property-based tests (fast-check) for the callback parser, the flow's transaction lifecycle and
// the PKCE primitives. They run in happy-dom and in real Chromium, so they use browser APIs only;
// every property is bounded by `numRuns` so the file stays within a few seconds in Chromium.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AuthorizationError,
  createCodeChallenge,
  createFlow,
  generateCodeVerifier,
  isPkceError,
  oauth2,
  openRouter,
  parseCallback,
} from "../../src/index.ts";
import type { CallbackExpectations, CallbackResult, Flow, OAuth2Result, OpenRouterResult, PkceErrorCode } from "../../src/index.ts";
import { referenceChallenge } from "./helpers/reference.ts";
import { MemoryStorage } from "./helpers/storage.ts";

const CODES: readonly PkceErrorCode[] = [
  "invalid_argument",
  "invalid_config",
  "crypto_unavailable",
  "storage_unavailable",
  "no_transaction",
  "expired",
  "invalid_callback",
  "state_missing",
  "state_mismatch",
  "issuer_missing",
  "issuer_mismatch",
  "authorization_error",
  "token_error",
  "invalid_response",
  "network_error",
  "timeout",
  "aborted",
];

// ---------------------------------------------------------------------------------------------
// An independent model of section 3 of the contract (DESIGN.md), written from the text, not from
// src/callback.ts: the query is generated as decoded (name, value) pairs plus the raw text that
// encodes them, so the model knows every decoded value without parsing anything.

const REAL_NAMES = ["code", "state", "iss", "error", "error_description", "error_uri"] as const;
const FOREIGN_NAMES = ["access_token", "id_token", "token", "response"] as const;
const MAX_PARAM = 8192;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

interface Param {
  /** Decoded name and value, as the parser must see them. */
  name: string;
  value: string;
  /** Raw `name=value` text in the query. */
  raw: string;
}

type Encoding = "uri" | "bytes-upper" | "bytes-lower" | "form" | "raw";

function encode(text: string, how: Encoding): string {
  switch (how) {
    case "uri":
      return encodeURIComponent(text);
    case "form":
      return encodeURIComponent(text).replace(/%20/g, "+");
    case "bytes-upper":
    case "bytes-lower": {
      let out = "";
      for (const byte of new TextEncoder().encode(text)) {
        const hex = byte.toString(16).padStart(2, "0");
        out += `%${how === "bytes-upper" ? hex.toUpperCase() : hex}`;
      }
      return out;
    }
    case "raw":
      // Only where the text survives the URL parser and the query splitter unchanged.
      return /^[\x21-\x7e]*$/.test(text) && !/[&=#%+]/.test(text) ? text : encodeURIComponent(text);
  }
}

// Raw text that is no valid percent-encoding, with what URLSearchParams must decode it to.
const JUNK: ReadonlyArray<[raw: string, decoded: string]> = [
  ["%ZZ", "%ZZ"],
  ["%", "%"],
  ["%2", "%2"],
  ["%C3%28", "\uFFFD("],
  ["%FF", "\uFFFD"],
  ["%E2%82", "\uFFFD"],
];

const encoding = fc.constantFrom<Encoding>("uri", "bytes-upper", "bytes-lower", "form", "raw");

const longValue = fc
  .record({ length: fc.integer({ min: MAX_PARAM - 40, max: MAX_PARAM + 40 }), unit: fc.constantFrom("a", "Z9", "é", "\u{1F600}", "-._~") })
  .map(({ length, unit }) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length))
  // A surrogate pair cut in half would not survive encodeURIComponent.
  .map((text) => (/[\uD800-\uDBFF]$/.test(text) ? text.slice(0, -1) : text));

const plainValue = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(..."ABCXYZabcxyz0189-._~") }), weight: 6 },
  { arbitrary: fc.constant(""), weight: 1 },
  { arbitrary: fc.string({ maxLength: 24 }), weight: 3 },
  { arbitrary: fc.string({ maxLength: 12, unit: "binary" }), weight: 2 },
  { arbitrary: fc.string({ maxLength: 12, unit: "grapheme" }), weight: 2 },
  { arbitrary: longValue, weight: 1 },
);

const value = fc.oneof(
  { arbitrary: fc.tuple(plainValue, encoding).map(([text, how]) => ({ value: text, rawValue: encode(text, how) })), weight: 12 },
  { arbitrary: fc.constantFrom(...JUNK).map(([raw, decoded]) => ({ value: decoded, rawValue: raw })), weight: 1 },
);

const param = (name: fc.Arbitrary<string>): fc.Arbitrary<Param> =>
  fc.record({ name, nameEncoding: encoding, v: value }).map(({ name: n, nameEncoding, v }) => ({
    name: n,
    value: v.value,
    raw: `${encode(n, nameEncoding)}=${v.rawValue}`,
  }));

const randomName = fc.oneof(fc.constantFrom("prompt", "session_state", "lang", "x"), fc.string({ maxLength: 10 }), fc.string({ maxLength: 6, unit: "binary" }));

/** `arbitrary` in `weight` cases out of `outOf`, else `null`. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight: number, outOf: number): fc.Arbitrary<T | null> =>
  fc.oneof({ arbitrary, weight }, { arbitrary: fc.constant(null), weight: outOf - weight });

// Code, state and iss are mostly well-formed, so that every outcome of the model is reached.
const tokenValue = fc.oneof(
  { arbitrary: fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(..."ABCXYZabcxyz0189-._~") }).map((v) => ({ value: v, rawValue: v })), weight: 12 },
  { arbitrary: value, weight: 3 },
);
const tokenParam = (name: string): fc.Arbitrary<Param> =>
  fc.record({ how: encoding, v: tokenValue }).map(({ how, v }) => ({ name, value: v.value, raw: `${encode(name, how)}=${v.rawValue}` }));

// Mostly well-formed callbacks, with extras, foreign parameters, duplicates, fragments.
const callbackQuery = fc
  .record({
    code: sometimes(tokenParam("code"), 5, 6),
    state: sometimes(tokenParam("state"), 2, 3),
    iss: sometimes(tokenParam("iss"), 1, 2),
    error: sometimes(param(fc.constant("error")), 1, 5),
    errorFields: fc.oneof(
      { arbitrary: fc.constant([]), weight: 3 },
      { arbitrary: fc.uniqueArray(param(fc.constantFrom("error_description", "error_uri")), { maxLength: 2, selector: (p) => p.name }), weight: 1 },
    ),
    foreign: sometimes(param(fc.constantFrom(...FOREIGN_NAMES)), 1, 10),
    extras: fc.array(param(fc.oneof({ arbitrary: randomName, weight: 9 }, { arbitrary: fc.constantFrom(...REAL_NAMES, ...FOREIGN_NAMES), weight: 1 })), { maxLength: 3 }),
    duplicate: sometimes(fc.record({ pick: fc.nat(), copy: param(fc.constant("")) }), 1, 10),
    separator: fc.constantFrom("&", "&", "&", "&&"),
    fragment: sometimes(fc.constantFrom("#code=frag&state=frag", "#x", "#"), 1, 4),
  })
  .chain((q) => {
    const params = [q.code, q.state, q.iss, q.error, ...q.errorFields, q.foreign, ...q.extras].filter((p): p is Param => p !== null);
    if (q.duplicate && params.length > 0) {
      // Same decoded name as an existing parameter, possibly spelled differently.
      const original = params[q.duplicate.pick % params.length]!;
      const copy = q.duplicate.copy;
      params.push({ name: original.name, value: copy.value, raw: `${encode(original.name, "bytes-lower")}${copy.raw}` });
    }
    return fc
      .shuffledSubarray(params, { minLength: params.length, maxLength: params.length })
      .map((ordered) => ({ params: ordered, url: `https://app.example/cb?${ordered.map((p) => p.raw).join(q.separator)}${q.fragment ?? ""}` }));
  });

type Outcome = { ok: CallbackResult } | { code: PkceErrorCode; authorization?: { error: string; errorDescription: string | null; errorUri: string | null } };

// The error_uri the contract keeps: only an absolute http(s) URL.
function httpOnly(uri: string | null): string | null {
  if (uri === null || !URL.canParse(uri)) return null;
  return ["http:", "https:"].includes(new URL(uri).protocol) ? uri : null;
}

function model(params: readonly Param[], expected: CallbackExpectations): Outcome {
  const counts = new Map<string, number>();
  for (const p of params) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
  const single = (name: string): string | null => {
    const found = params.find((p) => p.name === name);
    return found && found.value !== "" ? found.value : null;
  };
  const code = single("code");
  const state = single("state");
  const iss = single("iss");
  const syntaxBad =
    [...counts.values()].some((n) => n > 1) ||
    params.some((p) => p.value.length > MAX_PARAM || p.name.length > MAX_PARAM) ||
    FOREIGN_NAMES.some((name) => single(name) !== null) ||
    !PRINTABLE_ASCII.test(code ?? "") ||
    !PRINTABLE_ASCII.test(state ?? "");
  if (syntaxBad) return { code: "invalid_callback" };
  if (iss !== null && expected.issuer !== undefined && iss !== expected.issuer) return { code: "issuer_mismatch" };
  if (iss === null && expected.requireIssuer === true) return { code: "issuer_missing" };
  if (expected.state === null && state !== null) return { code: "state_mismatch" };
  if (typeof expected.state === "string") {
    if (state === null) return { code: "state_missing" };
    if (state !== expected.state) return { code: "state_mismatch" };
  }
  const error = single("error");
  if (error !== null) {
    const cap = (text: string | null) => (text === null ? null : text.slice(0, 1000));
    return {
      code: "authorization_error",
      authorization: { error: cap(error)!, errorDescription: cap(single("error_description")), errorUri: httpOnly(cap(single("error_uri"))) },
    };
  }
  if (code === null) return { code: "invalid_callback" };
  return { ok: { code, state, iss } };
}

const expectations = (params: readonly Param[]): fc.Arbitrary<CallbackExpectations> => {
  const sent = (name: string) => params.find((p) => p.name === name)?.value ?? "";
  return fc
    .record({
      state: fc.constantFrom<"omit" | "null" | "same" | "other">("omit", "null", "same", "same", "other"),
      issuer: fc.constantFrom<"omit" | "same" | "other">("omit", "same", "other"),
      requireIssuer: fc.constantFrom<boolean | undefined>(undefined, false, true),
      other: fc.string({ minLength: 1, maxLength: 8 }),
    })
    .map((e) => {
      const out: CallbackExpectations = {};
      if (e.state === "null") out.state = null;
      if (e.state === "same") out.state = sent("state");
      if (e.state === "other") out.state = e.other;
      if (e.issuer === "same") out.issuer = sent("iss");
      if (e.issuer === "other") out.issuer = `https://${e.other}.example`;
      if (e.requireIssuer !== undefined) out.requireIssuer = e.requireIssuer;
      return out;
    });
};

describe("parseCallback (property)", () => {
  it("returns exactly the single decoded code, state and iss, or throws a PkceError with the modelled code", () => {
    fc.assert(
      fc.property(
        callbackQuery.chain((q) => expectations(q.params).map((expected) => ({ ...q, expected }))),
        ({ params, url, expected }) => {
          const want = model(params, expected);
          let result: CallbackResult | undefined;
          let thrown: unknown;
          try {
            result = parseCallback(url, expected);
          } catch (error) {
            thrown = error;
          }
          if ("ok" in want) {
            expect(thrown).toBeUndefined();
            expect(result).toEqual(want.ok);
            // The code and the state each came from the input exactly once.
            expect(params.filter((p) => p.name === "code")).toHaveLength(1);
            if (result!.state !== null) expect(params.filter((p) => p.name === "state")).toHaveLength(1);
            return;
          }
          expect(result).toBeUndefined();
          expect(isPkceError(thrown)).toBe(true);
          const error = thrown as Error & { code: PkceErrorCode };
          expect(CODES).toContain(error.code);
          expect(error.code).toBe(want.code);
          if (want.authorization) {
            expect(error).toBeInstanceOf(AuthorizationError);
            expect(error.name).toBe("AuthorizationError");
            const { error: e, errorDescription, errorUri } = error as AuthorizationError;
            expect({ error: e, errorDescription, errorUri }).toEqual(want.authorization);
          } else {
            expect(error.name).toBe("PkceError");
          }
          // No message echoes a code or state value (long enough not to match ordinary words).
          for (const name of ["code", "state"]) {
            for (const p of params) if (p.name === name && p.value.length >= 12) expect(error.message).not.toContain(p.value);
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 20_000);

  it("never returns a result for a callback that carries a non-empty error, whatever else it carries", () => {
    fc.assert(
      fc.property(callbackQuery, fc.string({ minLength: 1, maxLength: 20 }), ({ url }, error) => {
        const [withoutFragment] = url.split("#");
        const withError = `${withoutFragment}&error=${encodeURIComponent(error)}`;
        let returned: unknown = "nothing";
        try {
          returned = parseCallback(withError);
        } catch (e) {
          expect(isPkceError(e)).toBe(true);
        }
        expect(returned).toBe("nothing");
      }),
      { numRuns: 200 },
    );
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------
// Flow round trips: two tabs (each with an OpenRouter and an OAuth 2.0 flow) share one storage.

const PREFIX = "pkce-flow:";
const OPENROUTER_CALLBACK = "https://app.example/connect?from=settings";
const OAUTH2_REDIRECT = "https://app.example/oauth/callback";
const ISSUER = "https://as.example";

// Keys that belong to someone else: they must stay byte-identical and never be written.
const FOREIGN_SEED: Record<string, string> = {
  "other-app:tx": JSON.stringify({ state: "s", codeVerifier: "v".repeat(43), createdAt: 0 }),
  "pkce-flow": "no colon: not under the prefix",
  "PKCE-FLOW:upper": "another prefix",
  "pkce-flow;semicolon": "another prefix",
  " pkce-flow:space": "another prefix",
  "auth-token": "the app's own secret",
};
// Under the prefix but another provider's, unexpired: neither flow may take or remove it.
const THIRD_PROVIDER_KEY = `${PREFIX}third-party-state`;
const THIRD_PROVIDER_VALUE = JSON.stringify({
  state: "third-party-state",
  codeVerifier: "t".repeat(43),
  codeChallengeMethod: "S256",
  redirectUri: "https://app.example/other",
  issuer: null,
  provider: "someone-else",
  createdAt: Date.now(),
  returnTo: null,
});

/** The memory storage of the unit helpers, also recording every write and removal. */
class RecordingStorage extends MemoryStorage {
  readonly writes: string[] = [];
  override setItem(key: string, value: string): void {
    this.writes.push(key);
    super.setItem(key, value);
  }
  override removeItem(key: string): void {
    this.writes.push(key);
    super.removeItem(key);
  }
}

type ProviderIndex = 0 | 1; // 0: OpenRouter, 1: OAuth 2.0
type Step =
  | { kind: "start"; tab: number; p: ProviderIndex; navigate: boolean }
  | { kind: "callback"; tab: number; p: ProviderIndex; pick: number; fresh: boolean; stateless: boolean; answer: "code" | "error"; mangle: "none" | "state" | "iss" }
  | { kind: "race"; p: ProviderIndex; pick: number; fresh: boolean }
  | { kind: "reload"; tab: number }
  | { kind: "reset"; tab: number; p: ProviderIndex };

const tab = fc.integer({ min: 0, max: 1 });
const providerIndex = fc.constantFrom<ProviderIndex>(0, 1);
// Mostly answer a transaction still pending; otherwise any started one (a replayed state).
const fresh = fc.constantFrom(true, true, true, false);
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("start" as const), tab, p: providerIndex, navigate: fc.boolean() }), weight: 6 },
  {
    arbitrary: fc.record({
      kind: fc.constant("callback" as const),
      tab,
      p: providerIndex,
      pick: fc.nat(),
      fresh: fresh,
      stateless: fc.constantFrom(false, false, true),
      answer: fc.constantFrom<"code" | "error">("code", "code", "code", "error"),
      mangle: fc.constantFrom<"none" | "state" | "iss">("none", "none", "none", "state", "iss"),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant("race" as const), p: providerIndex, pick: fc.nat(), fresh }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("reload" as const), tab }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("reset" as const), tab, p: providerIndex }), weight: 1 },
);

interface Started {
  p: ProviderIndex;
  state: string;
  challenge: string;
  /** Where the provider sends the browser back, before the response parameters are added. */
  callbackBase: string;
}

type Expected = { kind: "result" } | { kind: "null" } | { kind: "error"; code: PkceErrorCode };

let codeCounter = 0;

async function runScenario(steps: readonly Step[]): Promise<void> {
  const storage = new RecordingStorage();
  for (const [key, value] of Object.entries(FOREIGN_SEED)) storage.data.set(key, value);
  storage.data.set(THIRD_PROVIDER_KEY, THIRD_PROVIDER_VALUE);

  // The token endpoints: one answer per call, counted per code.
  const exchanged = new Map<string, number>();
  const verifiers = new Map<string, number>();
  // Queries of OpenRouter callbacks with a code but no state that were handled: loading one again
  // is a replay (codes are unique across runs, so the library's page-wide memory agrees).
  const spentQueries = new Set<string>();
  const bodies: Array<{ p: ProviderIndex; code: string; verifier: string; fields: Record<string, string> }> = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = await request.text();
    const isOpenRouter = request.url.endsWith("/api/v1/auth/keys");
    const fields: Record<string, string> = isOpenRouter ? (JSON.parse(text) as Record<string, string>) : Object.fromEntries(new URLSearchParams(text));
    const code = fields["code"]!;
    exchanged.set(code, (exchanged.get(code) ?? 0) + 1);
    const verifier = fields["code_verifier"]!;
    verifiers.set(verifier, (verifiers.get(verifier) ?? 0) + 1);
    bodies.push({ p: isOpenRouter ? 0 : 1, code, verifier: fields["code_verifier"]!, fields });
    const body = isOpenRouter ? { key: `sk-or-v1-${code}`, user_id: "user_1" } : { access_token: `at-${code}`, token_type: "Bearer" };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  const navigated: string[] = [];
  const providers = [
    openRouter({ callbackUrl: OPENROUTER_CALLBACK, baseUrl: "https://openrouter.example" }),
    oauth2({
      clientId: "spa",
      authorizationEndpoint: `${ISSUER}/authorize`,
      tokenEndpoint: `${ISSUER}/token`,
      redirectUri: OAUTH2_REDIRECT,
      issuer: ISSUER,
    }),
  ] as const;
  const open = () =>
    [
      createFlow(providers[0], { storage, fetch, navigate: (url) => void navigated.push(url), cleanUrl: false }),
      createFlow(providers[1], { storage, fetch, navigate: (url) => void navigated.push(url), cleanUrl: false }),
    ] as [Flow<OpenRouterResult>, Flow<OAuth2Result>];
  const tabs = [
    { flows: open(), last: null as { p: ProviderIndex; url: string } | null },
    { flows: open(), last: null as { p: ProviderIndex; url: string } | null },
  ];

  // The model: which transactions are pending in the shared storage, and how many exchanges.
  const pending = new Map<string, ProviderIndex>();
  const started: Started[] = [];
  let expectedExchanges = 0;

  // DESIGN.md "Which callbacks are whose", rule by rule (no popup; no transaction expires here).
  const redirectPage = [new URL(OPENROUTER_CALLBACK), new URL(OAUTH2_REDIRECT)].map((u) => u.origin + u.pathname);
  const predict = (p: ProviderIndex, url: URL): Expected => {
    const q = url.searchParams;
    if (!q.get("code") && !q.get("error")) return { kind: "null" };
    const state = q.get("state");
    const iss = q.get("iss");
    // Only the oauth2 provider has an issuer; a wrong iss is reported before any verdict on state.
    const wrongIss = p === 1 && iss !== null && iss !== ISSUER;
    const refuse = (code: PkceErrorCode): Expected => ({ kind: "error", code: wrongIss ? "issuer_mismatch" : code });
    const mine = [...pending].filter(([, owner]) => owner === p).map(([s]) => s);
    const take = (found: string): Expected => {
      pending.delete(found);
      if (!state && q.get("code")) spentQueries.add(url.search);
      if (wrongIss) return { kind: "error", code: "issuer_mismatch" };
      if (q.get("error")) return { kind: "error", code: "authorization_error" };
      expectedExchanges++;
      return { kind: "result" };
    };
    if (state) {
      if (mine.includes(state)) return take(state);
      if (pending.has(state) || state === "third-party-state") return { kind: "null" };
      if (mine.length) return refuse("state_mismatch");
      return url.origin + url.pathname === redirectPage[p] ? refuse("no_transaction") : { kind: "null" };
    }
    if (p === 0) {
      if (spentQueries.has(url.search) || iss || mine.length === 0) return { kind: "null" };
      return mine.length === 1 ? take(mine[0]!) : refuse("state_missing");
    }
    if (mine.length === 0 || [...pending.values()].includes(0)) return { kind: "null" };
    return refuse("state_missing");
  };

  const callbackUrl = (s: Started | undefined, p: ProviderIndex, options: { stateless: boolean; answer: "code" | "error"; mangle: string }): string => {
    const code = `code-${++codeCounter}-${"x".repeat(codeCounter % 7)}`;
    const response = new URLSearchParams(options.answer === "code" ? { code } : { error: "access_denied", error_description: "no" });
    if (options.mangle === "iss") response.set("iss", p === 1 ? "https://evil.example" : ISSUER);
    if (p === 0) {
      // OpenRouter: the state rides inside callback_url; the server appends the code.
      let base = s?.callbackBase ?? `${OPENROUTER_CALLBACK}&state=unknown-${codeCounter}`;
      if (options.stateless) base = OPENROUTER_CALLBACK;
      else if (options.mangle === "state") base = base.replace(/state=[^&]*/, `state=forged-${codeCounter}`);
      return `${base}&${response}`;
    }
    if (!options.stateless) response.set("state", options.mangle === "state" || !s ? `forged-${codeCounter}` : s.state);
    return `${OAUTH2_REDIRECT}?${response}`;
  };

  // The provider and transaction a callback answers: with `fresh`, a pending one when there is
  // any (of the other provider if need be); otherwise any started one, or none at all.
  const choose = ({ p, pick, fresh }: { p: ProviderIndex; pick: number; fresh: boolean }): [ProviderIndex, Started | undefined] => {
    const live = (q: ProviderIndex) => started.filter((x) => x.p === q && pending.has(x.state));
    const provider: ProviderIndex = fresh && live(p).length === 0 && live(p === 0 ? 1 : 0).length > 0 ? (p === 0 ? 1 : 0) : p;
    const all = started.filter((x) => x.p === provider);
    const from = fresh && live(provider).length > 0 ? live(provider) : all;
    return [provider, from[pick % Math.max(1, from.length)]];
  };

  const settle = async (promise: Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> => {
    try {
      return { value: await promise };
    } catch (error) {
      return { error };
    }
  };

  const check = (outcome: { value?: unknown; error?: unknown }, want: Expected, p: ProviderIndex) => {
    if (want.kind === "error") {
      expect(isPkceError(outcome.error, want.code), `expected ${want.code}, got ${String(outcome.error)}`).toBe(true);
      return;
    }
    expect(outcome.error, String(outcome.error)).toBeUndefined();
    if (want.kind === "null") expect(outcome.value).toBeNull();
    else expect(outcome.value).toMatchObject(p === 0 ? { key: expect.stringMatching(/^sk-or-v1-code-/) } : { accessToken: expect.stringMatching(/^at-code-/) });
  };

  const handle = async (tabIndex: number, p: ProviderIndex, url: string) => {
    const want = predict(p, new URL(url));
    const outcome = await settle(tabs[tabIndex]!.flows[p].handleCallback(url));
    check(outcome, want, p);
    tabs[tabIndex]!.last = { p, url };
  };

  for (const s of steps) {
    if (s.kind === "start") {
      const flow = tabs[s.tab]!.flows[s.p];
      let url: URL;
      if (s.navigate) {
        const before = navigated.length;
        await flow.start();
        expect(navigated).toHaveLength(before + 1);
        url = new URL(navigated.at(-1)!);
      } else {
        url = await flow.authorize();
      }
      const q = url.searchParams;
      const callbackBase = s.p === 0 ? q.get("callback_url")! : q.get("redirect_uri")!;
      const state = s.p === 0 ? new URL(callbackBase).searchParams.get("state")! : q.get("state")!;
      expect(q.get("code_challenge_method")).toBe("S256");
      expect(storage.getItem(PREFIX + state)).not.toBeNull();
      pending.set(state, s.p);
      started.push({ p: s.p, state, challenge: q.get("code_challenge")!, callbackBase });
    } else if (s.kind === "callback") {
      const [p, tx] = choose(s);
      await handle(s.tab, p, callbackUrl(tx, p, s));
    } else if (s.kind === "race") {
      // Both tabs load the same callback at once (a duplicated tab, React StrictMode).
      const [p, tx] = choose(s);
      const url = callbackUrl(tx, p, { stateless: false, answer: "code", mangle: "none" });
      const want = predict(p, new URL(url));
      const outcomes = await Promise.all([settle(tabs[0]!.flows[p].handleCallback(url)), settle(tabs[1]!.flows[p].handleCallback(url))]);
      for (const outcome of outcomes) check(outcome, want, p);
    } else if (s.kind === "reload") {
      // A reload forgets the page's objects but not the storage, and handles the same URL again.
      const t = tabs[s.tab]!;
      t.flows = open();
      if (t.last) await handle(s.tab, t.last.p, t.last.url);
    } else {
      tabs[s.tab]!.flows[s.p].reset();
      for (const [state, owner] of [...pending]) if (owner === s.p) pending.delete(state);
    }

    // After every step: storage under the prefix is exactly the model's pending transactions.
    const ours = [...storage.data.keys()].filter((key) => key.startsWith(PREFIX) && key !== THIRD_PROVIDER_KEY && key !== `${PREFIX}spent`).sort();
    expect(ours).toEqual([...pending.keys()].map((state) => PREFIX + state).sort());
  }

  // Each transaction's verifier goes out at most once, and exactly when the model says so.
  for (const [verifier, count] of verifiers) expect(count, `verifier ${verifier.slice(0, 6)}…`).toBe(1);
  // A code is exchanged at most once, stateless OpenRouter callbacks included.
  for (const [code, count] of exchanged) expect(count, code).toBe(1);
  expect(bodies).toHaveLength(expectedExchanges);
  // Each exchange carries the verifier of the transaction whose challenge went out (PKCE binding).
  for (const body of bodies) {
    const challenge = await referenceChallenge(body.verifier);
    expect(started.some((s) => s.p === body.p && s.challenge === challenge)).toBe(true);
    if (body.p === 1) expect(body.fields).toMatchObject({ grant_type: "authorization_code", redirect_uri: OAUTH2_REDIRECT, client_id: "spa" });
    else expect(body.fields["code_challenge_method"]).toBe("S256");
  }
  // Nothing outside the prefix (nor another provider's entry under it) was written or changed.
  for (const [key, value] of Object.entries(FOREIGN_SEED)) expect(storage.data.get(key)).toBe(value);
  expect(storage.data.get(THIRD_PROVIDER_KEY)).toBe(THIRD_PROVIDER_VALUE);
  for (const key of storage.writes) {
    expect(key.startsWith(PREFIX)).toBe(true);
    expect(key).not.toBe(THIRD_PROVIDER_KEY);
  }
}

describe("flow round trips (property)", () => {
  it("exchanges each code at most once, never keeps a transaction past its callback and touches only its own keys", async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 16 }), runScenario), { numRuns: 60 });
  }, 20_000);

  it("does not send an OpenRouter code twice when its stateless callback URL loads again after a new start", async () => {
    // Found by the property above: the stateless rule alone would hand the old code to the new
    // transaction. The new sign-in stays pending for its own callback.
    const storage = new RecordingStorage();
    const sent: string[] = [];
    const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const request = input instanceof Request ? input : new Request(input, init);
      sent.push((JSON.parse(await request.text()) as { code: string }).code);
      return new Response(JSON.stringify({ key: "sk-or-v1-x" }), { status: 200, headers: { "Content-Type": "application/json" } });
    };
    const provider = openRouter({ callbackUrl: OPENROUTER_CALLBACK, baseUrl: "https://openrouter.example" });
    const page = () => createFlow(provider, { storage, fetch, cleanUrl: false, navigate: () => {} });
    const callback = `${OPENROUTER_CALLBACK}&code=stale-code`;
    await page().start();
    await expect(page().handleCallback(callback)).resolves.toMatchObject({ key: "sk-or-v1-x" });
    await page().start(); // a new sign-in, then Back to the old callback URL (or a reload of it)
    await expect(page().handleCallback(callback)).resolves.toBeNull();
    expect(sent).toEqual(["stale-code"]);
    expect([...storage.data.keys()].filter((key) => key.startsWith("pkce-flow:") && key !== "pkce-flow:spent")).toHaveLength(1);
    expect(JSON.stringify([...storage.data.values()])).not.toContain("stale-code");
  });

  it("holds for a start followed by its own callback in the other tab, for both providers", async () => {
    // A fixed, readable case of the property (and proof that the model's success path is reached).
    await runScenario([
      { kind: "start", tab: 0, p: 0, navigate: true },
      { kind: "callback", tab: 1, p: 0, pick: 0, fresh: true, stateless: false, answer: "code", mangle: "none" },
      { kind: "start", tab: 1, p: 1, navigate: false },
      { kind: "race", p: 1, pick: 0, fresh: true },
      { kind: "reload", tab: 1 },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// PKCE: every allowed verifier length, and challenges checked against an independent SHA-256.

const VERIFIER = /^[A-Za-z0-9._~-]+$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

describe("PKCE verifiers and challenges (property)", () => {
  it("makes a valid verifier and a matching 43-character S256 challenge at every length from 43 to 128", async () => {
    for (let length = 43; length <= 128; length++) {
      const verifier = generateCodeVerifier(length);
      expect(verifier).toHaveLength(length);
      expect(verifier).toMatch(VERIFIER);
      const challenge = await createCodeChallenge(verifier);
      expect(challenge).toMatch(CHALLENGE);
      expect(challenge).toBe(await referenceChallenge(verifier));
    }
  });

  it("computes base64url(SHA-256) for any verifier over the unreserved alphabet", async () => {
    const unreserved = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: unreserved, minLength: 43, maxLength: 128 }), async (verifier) => {
        const challenge = await createCodeChallenge(verifier, "S256");
        expect(challenge).toMatch(CHALLENGE);
        expect(challenge).toBe(await referenceChallenge(verifier));
        await expect(createCodeChallenge(verifier, "plain")).resolves.toBe(verifier);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects with invalid_argument any verifier of the wrong length or with a character outside the alphabet", async () => {
    const bad = fc.oneof(
      fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~"), maxLength: 42 }),
      fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~"), minLength: 129, maxLength: 200 }),
      fc
        .tuple(fc.string({ unit: fc.constantFrom(..."abc"), minLength: 43, maxLength: 100 }), fc.string({ unit: "binary", minLength: 1, maxLength: 3 }), fc.nat())
        .filter(([, extra]) => /[^A-Za-z0-9._~-]/.test(extra))
        .map(([base, extra, at]) => base.slice(0, at % base.length) + extra + base.slice(at % base.length)),
    );
    await fc.assert(
      fc.asyncProperty(bad, fc.constantFrom<"S256" | "plain">("S256", "plain"), async (verifier, method) => {
        let error: unknown;
        try {
          await createCodeChallenge(verifier, method);
        } catch (e) {
          error = e;
        }
        expect(isPkceError(error, "invalid_argument")).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects every verifier length outside 43..128 with invalid_argument", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -1000, max: 42 }), fc.integer({ min: 129, max: 100000 }), fc.double().filter((n) => !Number.isInteger(n))), (length) => {
        let error: unknown;
        try {
          generateCodeVerifier(length);
        } catch (e) {
          error = e;
        }
        expect(isPkceError(error, "invalid_argument")).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
