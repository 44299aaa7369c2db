import { badState, callbackUrl, parseCallback, type CallbackExpectations } from "./callback.js";
import { PkceError, fail } from "./errors.js";
import { createPkcePair } from "./pkce.js";
import type { Provider } from "./provider.js";
import { generateState } from "./random.js";
import { sendRequest } from "./request.js";
import { createTransactionStore, type StorageLike, type Transaction } from "./storage.js";

/** Where a flow is: `idle` -> `redirecting` on the start page; `idle` -> `exchanging` -> `authorized` | `failed` on the callback page. */
export type FlowStatus = "idle" | "redirecting" | "exchanging" | "authorized" | "failed";

/** An immutable view of the flow; the same object until the status changes (fit for React's useSyncExternalStore). Never holds a code, verifier or key. */
export interface FlowSnapshot {
  readonly status: FlowStatus;
  readonly error?: PkceError;
  readonly returnTo?: string;
}

/** Options of {@link createFlow}. */
export interface FlowOptions {
  /** Where transactions live between the redirect and the callback. @default sessionStorage */
  storage?: StorageLike;
  /** Prefix of every key this flow writes; keys without it are never touched. @default "pkce-flow:" */
  keyPrefix?: string;
  /** A transaction older than this is `expired`. @default 600000 */
  ttlMs?: number;
  /** The fetch used for the token request. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Token request timeout in milliseconds. @default 30000 */
  timeoutMs?: number;
  /** How `start()` leaves the page. @default (url) => location.assign(url) */
  navigate?: (url: string) => void;
  /** Remove `code`, `state`, `iss` and `error*` from the address bar on the callback. @default true */
  cleanUrl?: boolean;
}

/** Options of `start()` and `authorize()`. */
export interface StartOptions {
  /** A same-origin path or URL to return to after the callback; given back in the snapshot. */
  returnTo?: string;
}

/** The state machine a page drives: see {@link createFlow}. */
export interface Flow<Result> {
  /** The current status. */
  readonly status: FlowStatus;
  /** The current snapshot (a stable object between changes). */
  snapshot(): FlowSnapshot;
  /** Calls `listener` with each new snapshot; returns the unsubscribe function. */
  subscribe(listener: (snapshot: FlowSnapshot) => void): () => void;
  /**
   * Creates and stores a transaction, then navigates to the provider.
   * @throws {PkceError} `invalid_argument`, `crypto_unavailable`, `storage_unavailable` (never navigates then).
   */
  start(options?: StartOptions): Promise<void>;
  /** As `start()`, but returns the authorization URL instead of navigating. */
  authorize(options?: StartOptions): Promise<URL>;
  /** Whether `url` is a callback (carries `code` or `error`) for a transaction in this storage. */
  isCallback(url?: string | URL): boolean;
  /**
   * Finishes the flow on the callback page: validates, forgets the transaction, cleans the
   * address bar, sends the token request once and resolves the provider's result; `null` when the
   * URL is no callback of this provider. Concurrent calls for one callback share one request.
   * @throws {PkceError} any callback or token error code; {@link AuthorizationError}; {@link TokenError}.
   */
  handleCallback(url?: string | URL, options?: { signal?: AbortSignal }): Promise<Result | null>;
  /** Forgets this provider's pending transactions in this storage and returns to `idle`. */
  reset(): void;
}

const CALLBACK_PARAMS = new Set(["code", "state", "iss", "error", "error_description", "error_uri"]);
// Shared by every flow of the page, so StrictMode's double effect (even with two flow objects)
// sends one request. Keyed by provider and URL, both before and after the address bar is cleaned.
// Each entry: the outcome, the listener set of the flow that sends it, and the stored returnTo.
const inflight = new Map<string, [promise: Promise<unknown>, owner: object, returnTo: string | null]>();
// Callbacks with a code but no state already handled on this page (provider and URL), so loading
// one again cannot hand its spent code to a newer transaction. In memory only: storage keeps no
// trace, so this does not survive a full reload (the address bar is cleaned for that).
const spent = new Set<string>();

type Entry = { tx: Transaction; expired: boolean };

/**
 * Creates the flow for one provider. Touches no browser global until a method is called.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
 * @example
 * const flow = createFlow(openRouter({ callbackUrl: location.origin + "/" }))
 * const result = await flow.handleCallback() // on every page load
 * if (result) useKey(result.key)
 * button.onclick = () => flow.start()
 */
export function createFlow<Result>(provider: Provider<Result>, options: FlowOptions = {}): Flow<Result> {
  const { id } = provider;
  const store = createTransactionStore({
    storage: options.storage ?? (() => globalThis.sessionStorage),
    keyPrefix: options.keyPrefix ?? "pkce-flow:",
    ttlMs: options.ttlMs ?? 600000,
  });
  const listeners = new Set<(snapshot: FlowSnapshot) => void>();
  let current: FlowSnapshot = { status: "idle" };

  const set = (status: FlowStatus, returnTo?: string | null, error?: unknown) => {
    const next: { status: FlowStatus; error?: PkceError; returnTo?: string } = { status };
    if (error instanceof PkceError) next.error = error;
    if (returnTo) next.returnTo = returnTo;
    current = next;
    for (const listener of [...listeners]) {
      try {
        listener(current);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  };

  // Finds this callback's transaction. `null`: not ours. Throws when ours but unusable.
  const match = (url: URL): Entry | null => {
    const query = url.searchParams;
    const state = query.get("state");
    if ((!query.get("code") && !query.get("error")) || spent.has(`${id} ${url.href}`)) return null;
    const all = store.list();
    const mine = all.filter((e) => e.tx.provider === id);
    const live = mine.filter((e) => !e.expired);
    const entry = state ? mine.find((e) => e.tx.state === state) : provider.statelessCallback && live.length === 1 ? live[0] : undefined;
    // Nothing of ours pending, or the callback belongs to another provider's flow on this page.
    return entry ?? (!live.length || all.some((e) => e.tx.state === state) ? null : badState(state));
  };

  // Creates and stores a transaction; gives the authorization URL and the checked returnTo.
  const begin = async (opts: StartOptions = {}): Promise<[URL, string | null]> => {
    const returnTo = opts.returnTo === undefined ? null : sameOrigin(opts.returnTo);
    store.sweep();
    const { codeVerifier, codeChallenge, codeChallengeMethod } = await createPkcePair({ method: provider.codeChallengeMethod });
    const state = generateState();
    store.put({
      state,
      codeVerifier,
      codeChallengeMethod,
      redirectUri: provider.redirectUri,
      issuer: provider.issuer ?? null,
      provider: id,
      createdAt: Date.now(),
      returnTo,
    });
    return [provider.authorizationUrl({ state, codeChallenge, codeChallengeMethod }), returnTo];
  };

  // Validates the callback against the transaction and sends the token request; moves the status.
  const exchange = async ({ tx, expired }: Entry, url: URL, stateless: boolean, signal?: AbortSignal): Promise<Result> => {
    const { codeVerifier, codeChallengeMethod, redirectUri, returnTo } = tx;
    try {
      if (expired) fail("expired", "sign-in expired: start it again");
      // An undefined state or issuer skips that check.
      const expected = { state: stateless ? undefined : tx.state, issuer: tx.issuer ?? undefined, requireIssuer: provider.requireIssuer === true };
      const { code } = parseCallback(url, expected as CallbackExpectations);
      set("exchanging", returnTo);
      const request = provider.tokenRequest({ code, codeVerifier, codeChallengeMethod, redirectUri });
      const body = await sendRequest(request, { fetch: options.fetch, timeoutMs: options.timeoutMs, signal }, [code, codeVerifier, tx.state]);
      const result = provider.parseResult(body, { nonce: tx.nonce });
      set("authorized", returnTo);
      return result;
    } catch (error) {
      set("failed", returnTo, error);
      throw error;
    }
  };

  // Async: every throw below is a rejection. The inflight entry is registered before the first await.
  const handle = async (input: string | URL | undefined, signal?: AbortSignal): Promise<Result | null> => {
    const url = callbackUrl(input ?? globalThis.location?.href);
    const key = `${id} ${url.href}`;
    const shared = inflight.get(key);
    if (shared) {
      const [promise, owner, returnTo] = shared;
      // Another flow object sends it: follow its outcome, so this flow's status moves too.
      if (owner !== listeners) {
        set("exchanging", returnTo);
        promise.then(
          () => set("authorized", returnTo),
          (error) => set("failed", returnTo, error),
        );
      }
      return promise as Promise<Result>;
    }
    let entry: Entry | null;
    try {
      entry = match(url);
    } catch (error) {
      set("failed", null, error);
      throw error;
    }
    if (!entry) return null;
    const stateless = !url.searchParams.get("state");
    store.remove(entry.tx.state);
    if (stateless && url.searchParams.get("code")) spent.add(key);
    const cleaned = options.cleanUrl === false ? url.href : cleanAddressBar(url);
    const promise = exchange(entry, url, stateless, signal);
    const keys = [key, `${id} ${cleaned}`];
    for (const k of keys) inflight.set(k, [promise, listeners, entry.tx.returnTo]);
    const forget = () => keys.forEach((k) => inflight.delete(k));
    promise.then(forget, forget);
    return promise;
  };

  return {
    get status() {
      return current.status;
    },
    snapshot: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    authorize: async (opts) => (await begin(opts))[0],
    async start(opts) {
      const [url, returnTo] = await begin(opts);
      set("redirecting", returnTo);
      (options.navigate ?? ((href: string) => globalThis.location.assign(href)))(url.href);
    },
    isCallback(input) {
      try {
        return match(callbackUrl(input ?? globalThis.location?.href)) !== null;
      } catch {
        return false;
      }
    },
    handleCallback: (url, opts) => handle(url, opts?.signal),
    reset() {
      try {
        for (const { tx } of store.list()) if (tx.provider === id) store.remove(tx.state);
      } catch {
        // Unavailable storage holds nothing to forget.
      }
      set("idle");
    },
  };
}

// Same-origin check against the page, as the contract gives it; stores path, query and hash only.
function sameOrigin(returnTo: string): string {
  try {
    const { origin } = globalThis.location;
    const url = new URL(returnTo, origin);
    if (typeof returnTo === "string" && url.origin === origin) return url.pathname + url.search + url.hash;
  } catch {
    // reported below
  }
  return fail("invalid_argument", "returnTo must be same-origin");
}

// A query without the callback parameters, the rest kept byte for byte (empty parts dropped).
function strip(search: string): string {
  const kept = search
    .slice(1)
    .split("&")
    // Each part's name as URLSearchParams decodes it; the "&" keeps a leading "?" in the name.
    .filter((part) => part && !CALLBACK_PARAMS.has(new URLSearchParams(`&${part}`).keys().next().value!));
  return kept.length ? `?${kept.join("&")}` : "";
}

// Drops the callback parameters from the address bar when it shows `url`; returns the cleaned
// form of `url`.
function cleanAddressBar(url: URL): string {
  const search = strip(url.search);
  const page = (u: URL) => u.origin + u.pathname;
  const { location, history } = globalThis;
  if (location && history) {
    const current = new URL(location.href);
    if (page(current) + current.search === page(url) + url.search) {
      history.replaceState(history.state, "", current.pathname + search + current.hash);
    }
  }
  return page(url) + search + url.hash;
}
