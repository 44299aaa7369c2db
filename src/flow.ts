import { parseCallback, type CallbackExpectations } from "./callback.js";
import { PkceError } from "./errors.js";
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
const inflight = new Map<string, { promise: Promise<unknown>; owner: object; returnTo: string | null }>();
// Callbacks with a code but no state already handled on this page (provider and URL), so loading
// one again cannot hand its spent code to a newer transaction. In memory only: storage keeps no
// trace, so this does not survive a full reload (the address bar is cleaned for that).
const spent = new Set<string>();

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
  const store = createTransactionStore({
    storage: options.storage ?? (() => globalThis.sessionStorage),
    keyPrefix: options.keyPrefix ?? "pkce-flow:",
    ttlMs: options.ttlMs ?? 600000,
  });
  const listeners = new Set<(snapshot: FlowSnapshot) => void>();
  let current: FlowSnapshot = { status: "idle" };

  const set = (status: FlowStatus, error?: unknown, returnTo?: string | null) => {
    current = {
      status,
      ...(error instanceof PkceError ? { error } : {}),
      ...(returnTo ? { returnTo } : {}),
    };
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
  const match = (url: URL): { entry: { tx: Transaction; expired: boolean }; stateless: boolean } | null => {
    const query = url.searchParams;
    if (!query.get("code") && !query.get("error")) return null;
    if (spent.has(`${provider.id} ${url.href}`)) return null;
    const all = store.list();
    const mine = all.filter((e) => e.tx.provider === provider.id);
    const live = mine.filter((e) => !e.expired);
    const state = query.get("state");
    const entry = state ? mine.find((e) => e.tx.state === state) : provider.statelessCallback && live.length === 1 ? live[0] : undefined;
    if (entry) return { entry, stateless: !state };
    // Nothing of ours pending, or the callback belongs to another provider's flow on this page.
    if (!live.length || all.some((e) => e.tx.state === state)) return null;
    throw new PkceError(
      state ? "state_mismatch" : "state_missing",
      state ? "The callback's state matches no sign-in started in this tab; start it again." : "The callback has no state parameter; start the sign-in again.",
    );
  };

  const authorize = async (opts: StartOptions = {}): Promise<URL> => {
    const returnTo = opts.returnTo === undefined ? null : sameOrigin(opts.returnTo);
    store.sweep();
    const pair = await createPkcePair({ method: provider.codeChallengeMethod });
    const state = generateState();
    store.put({
      state,
      codeVerifier: pair.codeVerifier,
      codeChallengeMethod: pair.codeChallengeMethod,
      redirectUri: provider.redirectUri,
      issuer: provider.issuer ?? null,
      provider: provider.id,
      createdAt: Date.now(),
      returnTo,
    });
    return provider.authorizationUrl({ state, codeChallenge: pair.codeChallenge, codeChallengeMethod: pair.codeChallengeMethod });
  };

  const exchange = async (tx: Transaction, url: URL, stateless: boolean, signal?: AbortSignal): Promise<Result> => {
    const expected: CallbackExpectations = { requireIssuer: provider.requireIssuer === true };
    if (!stateless) expected.state = tx.state;
    if (tx.issuer !== null) expected.issuer = tx.issuer;
    const { code } = parseCallback(url, expected);
    set("exchanging", undefined, tx.returnTo);
    const request = provider.tokenRequest({
      code,
      codeVerifier: tx.codeVerifier,
      codeChallengeMethod: tx.codeChallengeMethod,
      redirectUri: tx.redirectUri,
    });
    const body = await sendRequest(request, { fetch: options.fetch, timeoutMs: options.timeoutMs, signal }, [code, tx.codeVerifier, tx.state]);
    return provider.parseResult(body);
  };

  const handle = (input: string | URL | undefined, signal?: AbortSignal): Promise<Result | null> => {
    let url: URL;
    try {
      url = new URL(input ?? globalThis.location.href);
    } catch {
      return Promise.reject(new PkceError("invalid_callback", "The callback URL is not an absolute URL."));
    }
    const key = `${provider.id} ${url.href}`;
    const shared = inflight.get(key);
    if (shared) {
      // Another flow object sends it: follow its outcome, so this flow's status moves too.
      if (shared.owner !== listeners) {
        set("exchanging", undefined, shared.returnTo);
        shared.promise.then(
          () => set("authorized", undefined, shared.returnTo),
          (error) => set("failed", error, shared.returnTo),
        );
      }
      return shared.promise as Promise<Result | null>;
    }
    let found: ReturnType<typeof match>;
    try {
      found = match(url);
      if (!found) return Promise.resolve(null);
    } catch (error) {
      set("failed", error);
      return Promise.reject(error);
    }
    const { entry, stateless } = found;
    store.remove(entry.tx.state);
    if (stateless && url.searchParams.get("code")) spent.add(key);
    const cleaned = options.cleanUrl === false ? url.href : cleanAddressBar(url);
    const promise = (async () => {
      try {
        if (entry.expired) throw new PkceError("expired", "The sign-in took too long and expired; start it again.");
        const result = await exchange(entry.tx, url, stateless, signal);
        set("authorized", undefined, entry.tx.returnTo);
        return result;
      } catch (error) {
        set("failed", error, entry.tx.returnTo);
        throw error;
      }
    })();
    const keys = [key, `${provider.id} ${cleaned}`];
    for (const k of keys) inflight.set(k, { promise, owner: listeners, returnTo: entry.tx.returnTo });
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
    authorize,
    async start(opts) {
      const url = await authorize(opts);
      set("redirecting", undefined, opts?.returnTo === undefined ? null : sameOrigin(opts.returnTo));
      (options.navigate ?? ((href: string) => globalThis.location.assign(href)))(url.href);
    },
    isCallback(input) {
      try {
        return match(new URL(input ?? globalThis.location.href)) !== null;
      } catch {
        return false;
      }
    },
    handleCallback: (url, opts) => handle(url, opts?.signal),
    reset() {
      try {
        for (const { tx } of store.list()) if (tx.provider === provider.id) store.remove(tx.state);
      } catch {
        // Unavailable storage holds nothing to forget.
      }
      set("idle");
    },
  };
}

// Same-origin check against the page, as the contract gives it; stores path, query and hash only.
function sameOrigin(returnTo: string): string {
  let url: URL | undefined;
  try {
    url = new URL(returnTo, globalThis.location.origin);
  } catch {
    // reported below
  }
  if (typeof returnTo !== "string" || !url || url.origin !== globalThis.location.origin) {
    throw new PkceError("invalid_argument", "returnTo must be a same-origin path or URL.");
  }
  return url.pathname + url.search + url.hash;
}

// Drops the callback parameters from the address bar, byte for byte keeping the rest; returns
// the cleaned form of `url`.
function cleanAddressBar(url: URL): string {
  const strip = (search: string) => {
    const kept = search
      .slice(1)
      .split("&")
      .filter((part) => {
        const name = part.split("=")[0]!;
        let decoded = name;
        try {
          decoded = decodeURIComponent(name.replace(/\+/g, " "));
        } catch {
          // an undecodable name is no callback parameter
        }
        return part !== "" && !CALLBACK_PARAMS.has(decoded);
      });
    return kept.length ? `?${kept.join("&")}` : "";
  };
  const loc = globalThis.location;
  if (loc && globalThis.history) {
    const current = new URL(loc.href);
    if (current.origin === url.origin && current.pathname === url.pathname && current.search === url.search) {
      globalThis.history.replaceState(globalThis.history.state, "", current.pathname + strip(current.search) + current.hash);
    }
  }
  return url.origin + url.pathname + strip(url.search) + url.hash;
}
