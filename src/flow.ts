import { badState, callbackUrl, parseCallback, readCallback } from "./callback.js";
import { PkceError, fail, type AnyPkceError } from "./errors.js";
import { createPkcePair } from "./pkce.js";
import type { ParamValue, Provider } from "./provider.js";
import { POPUP_STATE, awaitPopup, isPopupCallback, openPopup, relay } from "./popup.js";
import { generateState } from "./random.js";
import { checkSignal, checkTimer, sendRequest } from "./request.js";
import { createTransactionStore, type StorageLike, type Transaction } from "./storage.js";

/** Where a flow is: `idle` -> `redirecting` on the start page; `idle` -> `exchanging` -> `authorized` | `failed` on the callback page. */
export type FlowStatus = "idle" | "redirecting" | "exchanging" | "authorized" | "failed";

/** An immutable view of the flow; the same object until the status changes (fit for React's useSyncExternalStore). Never holds a code, verifier or key. */
export interface FlowSnapshot {
  readonly status: FlowStatus;
  /** Why the flow `failed`; narrows on `code` (`error.code === "token_error"` gives a TokenError). */
  readonly error?: AnyPkceError;
  readonly returnTo?: string;
}

/** Options of {@link createFlow}. */
export interface FlowOptions {
  /** Where transactions live between the redirect and the callback. @default sessionStorage */
  storage?: StorageLike;
  /** Prefix of every key this flow writes (non-empty); keys without it are never touched. @default "pkce-flow:" */
  keyPrefix?: string;
  /** A transaction older than this is `expired`; a number > 0 and <= 2^31 - 1. @default 600000 */
  ttlMs?: number;
  /** The fetch used for the token request. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Token request timeout in milliseconds; a number > 0 and <= 2^31 - 1. @default 30000 */
  timeoutMs?: number;
  /** How `start()` leaves the page. @default (url) => location.assign(url) */
  navigate?: (url: string) => void;
  /** Remove `code`, `state`, `iss`, `error*` and `session_state` from the address bar on the callback. @default true */
  cleanUrl?: boolean;
}

/** Options of `start()` and `authorize()`. */
export interface StartOptions {
  /**
   * A same-origin path or URL to return to after the callback; given back in the snapshot as a
   * path that starts with exactly one `/`.
   */
  returnTo?: string;
  /**
   * Authorization request parameters for this request only (`login_hint`, `prompt`, ...). The
   * parameters the library owns cannot be set (`invalid_argument`).
   */
  params?: Record<string, ParamValue>;
}

/** Options of `popup()`. */
export interface PopupOptions extends StartOptions {
  /** Rejects `aborted`, forgets the transaction and closes the window. */
  signal?: AbortSignal;
  /** The `window.open` features string. @default about 500 x 700, centred on this window */
  features?: string;
  /**
   * Reject `popup_closed` about a second after the user closes the window. Turn it off when the
   * server sends `Cross-Origin-Opener-Policy`, which makes an open popup look closed; the promise
   * then waits for the callback, the `signal`, or `ttlMs` (`expired`).
   * @default true
   */
  detectClose?: boolean;
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
   * Creates and stores a transaction, then navigates to the provider. A failure also sets status
   * `failed` with the error.
   * @throws {PkceError} `invalid_argument`, `invalid_config` (headless provider),
   *   `crypto_unavailable`, `storage_unavailable` (never navigates then).
   */
  start(options?: StartOptions): Promise<void>;
  /** As `start()`, but returns the authorization URL instead of navigating. */
  authorize(options?: StartOptions): Promise<URL>;
  /**
   * Signs in in a popup window, so the page keeps its state. Call it directly in a click handler:
   * it opens the window before its first `await`, then stores the transaction and points the
   * window at the server. The app's usual `handleCallback()` on the redirect URI, running in the
   * popup, hands the callback back to this tab and closes the window; this tab then validates and
   * exchanges it as `handleCallback` does. Statuses: `redirecting`, `exchanging`, then
   * `authorized` or `failed`.
   * @throws {PkceError} `popup_blocked` (nothing stored), `popup_closed`, `aborted`, `expired`,
   *   `invalid_config` (headless provider), the errors of `start()`, and any callback or token
   *   error of `handleCallback()`; always as a rejection.
   * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7
   * @example
   * button.onclick = async () => {
   *   const { key } = await flow.popup() // no await before this call
   *   useKey(key)
   * }
   */
  popup(options?: PopupOptions): Promise<Result>;
  /** Whether `url` is a callback (carries `code` or `error`) for a transaction in this storage, or a popup's callback. */
  isCallback(url?: string | URL): boolean;
  /**
   * Finishes the flow on the callback page: validates, forgets the transaction, cleans the
   * address bar, sends the token request once and resolves the provider's result; `null` when the
   * URL is no callback of this provider. Concurrent calls for one callback share one request.
   * A callback that came back to a page other than its transaction's redirect URI (origin and
   * path) is `invalid_callback` (a mix-up); storage that cannot forget the transaction is
   * `storage_unavailable`; both before anything is sent.
   * @throws {PkceError} any callback or token error code; {@link AuthorizationError}; {@link TokenError}.
   * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.4.2
   */
  handleCallback(url?: string | URL, options?: { signal?: AbortSignal }): Promise<Result | null>;
  /**
   * Finishes a headless flow (`openRouter({ headless: true })`) with the code the user pasted:
   * takes this provider's newest pending transaction, removes it before the request, sends one
   * token request and resolves the result, moving the statuses as `handleCallback` does.
   * @throws {PkceError} `invalid_config` (the provider has a callback), `invalid_argument` (empty,
   *   oversized or non-printable code; the transaction stays), `no_transaction`, `expired`, and
   *   any token error.
   */
  exchangeCode(code: string, options?: { signal?: AbortSignal }): Promise<Result>;
  /** Forgets this provider's pending transactions in this storage and returns to `idle`. */
  reset(): void;
}

const CALLBACK_PARAMS = new Set(["code", "state", "iss", "error", "error_description", "error_uri", "session_state"]);
// Shared by the flows of the page that share transactions, so StrictMode's double effect (even
// with two flow objects) sends one request. One map per storage object (the default storage has
// its own), keyed by key prefix, provider and URL (both before and after the address bar is
// cleaned): a flow that cannot hold the transaction never joins, and so never resolves, another
// flow's exchange.
const inflight = new WeakMap<object, Map<string, Exchange>>();
const SESSION = {};
// Callbacks with a code but no state already handled on this page (provider and URL), so loading
// one again cannot hand its spent code to a newer transaction. In memory only: storage keeps no
// trace, so this does not survive a full reload (the address bar is cleaned for that).
const spent = new Set<string>();

type Entry = { tx: Transaction; expired: boolean };
// One token request and the callers waiting for it: the request is aborted only when every
// waiting caller has aborted (React StrictMode aborts the first effect, then calls again).
type Exchange = { promise: Promise<unknown>; owner: object; returnTo: string | null; waiting: number; abort: () => void };

/**
 * Creates the flow for one provider. Touches no browser global until a method is called.
 * @throws {PkceError} `invalid_config` for a bad option (`keyPrefix`, `ttlMs`, `timeoutMs`).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
 * @example
 * const flow = createFlow(openRouter({ callbackUrl: location.origin + "/callback" }))
 * const result = await flow.handleCallback() // on every page load
 * if (result) useKey(result.key)
 * button.onclick = () => flow.start()
 */
export function createFlow<Result>(provider: Provider<Result>, flowOptions?: FlowOptions | null): Flow<Result> {
  const options = flowOptions ?? {};
  const { keyPrefix = "pkce-flow:", ttlMs = 600000, timeoutMs = 30000 } = options;
  if (typeof keyPrefix !== "string" || !keyPrefix) fail("invalid_config", "keyPrefix must be a non-empty string");
  checkTimer(ttlMs, "ttlMs", "invalid_config");
  checkTimer(timeoutMs, "timeoutMs", "invalid_config");
  const { id } = provider;
  const store = createTransactionStore({ storage: options.storage ?? (() => globalThis.sessionStorage), keyPrefix, ttlMs });
  let scoped: Map<string, Exchange> | undefined;
  // The exchanges in flight of the flows that keep transactions in this flow's storage object (the
  // default one resolved as it is used, so creating a flow touches no storage).
  const running = (): Map<string, Exchange> => {
    if (!scoped) {
      let scope: object = SESSION;
      try {
        let storage: unknown = options.storage ?? globalThis.sessionStorage;
        // A getter, as the transaction store takes one: the scope is the storage it gives.
        if (typeof storage === "function") storage = storage();
        if (storage && typeof storage === "object") scope = storage;
      } catch {
        // Storage that throws on access (a sandboxed frame): its flows fail on their own.
      }
      scoped = inflight.get(scope) ?? new Map<string, Exchange>();
      inflight.set(scope, scoped);
    }
    return scoped;
  };
  // Starts every in-flight key of this flow; JSON keeps prefix and id apart whatever they contain.
  const tag = JSON.stringify([keyPrefix, id]);
  // Where a popup's callback page hands the callback back to the opening tab.
  const channel = `${keyPrefix}popup`;
  const listeners = new Set<(snapshot: FlowSnapshot) => void>();
  let current: FlowSnapshot = { status: "idle" };

  const set = (status: FlowStatus, returnTo?: string | null, error?: unknown) => {
    const next: { status: FlowStatus; error?: AnyPkceError; returnTo?: string } = { status };
    if (error instanceof PkceError) next.error = error as AnyPkceError;
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
  // Runs `work`; a failure also reaches the snapshot.
  const failing = async <T>(work: () => T | Promise<T>, returnTo?: string | null): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      set("failed", returnTo, error);
      throw error;
    }
  };

  // Whose callback is this (DESIGN.md "Which callbacks are whose")? `null`: not this flow's. An
  // entry: this flow's, to finish. Throws when it is this flow's but unusable.
  const match = (url: URL): Entry | null => {
    const query = url.searchParams;
    const state = query.get("state");
    if ((!query.get("code") && !query.get("error")) || spent.has(`${id} ${url.href}`)) return null;
    const all = store.list();
    const mine = all.filter((e) => e.tx.provider === id);
    const live = mine.filter((e) => !e.expired);
    // The first checks run before any verdict on state, so their order holds for every callback.
    const check = () => readCallback(url, { issuer: provider.issuer, requireIssuer: provider.requireIssuer === true });
    if (state) {
      const entry = mine.find((e) => e.tx.state === state);
      if (entry) return entry;
      if (all.some((e) => e.tx.state === state)) return null;
      if (live.length) return check(), badState(state);
      if (!samePage(url, provider.redirectUri)) return null;
      check();
      return fail("no_transaction", "this sign-in finished, expired, or was started in another tab: start it again");
    }
    if (provider.statelessCallback) {
      // A callback with `iss` is some other server's; OpenRouter sends none. Only the page a
      // sign-in comes back to takes it: a `?code=` elsewhere in the app is none of OpenRouter's
      // (rule 6), and leaves the pending sign-in as it is.
      const here = query.get("iss") ? [] : mine.filter((e) => samePage(url, e.tx.redirectUri));
      const alive = here.filter((e) => !e.expired);
      if (!here.length) return null;
      if (alive.length > 1) return check(), badState(null);
      // The one live transaction, or else the newest expired one (reported as `expired`).
      return alive[0] ?? here.sort((a, b) => b.tx.createdAt - a.tx.createdAt)[0]!;
    }
    // Another flow on this page takes callbacks without state: leave this one to it.
    if (!live.length || all.some((e) => e.tx.stateless && !e.expired)) return null;
    return check(), badState(null);
  };

  // Creates and stores a transaction; gives the authorization URL and the stored returnTo.
  const begin = async (startOptions?: StartOptions | null, prefix = ""): Promise<[URL, string | null, string]> => {
    const { returnTo: target, params } = startOptions ?? {};
    const returnTo = target === undefined ? null : samePath(target);
    store.sweep();
    const { codeVerifier, codeChallenge, codeChallengeMethod } = await createPkcePair({ method: provider.codeChallengeMethod });
    const state = prefix + generateState();
    const nonce = provider.nonce ? generateState() : undefined;
    // Built before anything is stored: a refused parameter leaves nothing behind.
    const url = provider.authorizationUrl({ state, codeChallenge, codeChallengeMethod, nonce, params });
    const now = Date.now();
    store.put({
      state,
      codeVerifier,
      codeChallengeMethod,
      redirectUri: provider.redirectUri,
      issuer: provider.issuer ?? null,
      provider: id,
      createdAt: now,
      expiresAt: now + ttlMs,
      returnTo,
      ...(nonce && { nonce }),
      ...(provider.statelessCallback && { stateless: true }),
    });
    return [url, returnTo, state];
  };

  // Sends the token request for a transaction; `code` consumes it (removed, and checked gone) and
  // validates, throwing before anything is sent. Moves the status.
  const exchange = (tx: Transaction, code: () => string, signal: AbortSignal): Promise<Result> =>
    failing(async () => {
      const value = code();
      set("exchanging", tx.returnTo);
      const request = provider.tokenRequest({ code: value, codeVerifier: tx.codeVerifier, codeChallengeMethod: tx.codeChallengeMethod, redirectUri: tx.redirectUri });
      const body = await sendRequest(request, { fetch: options.fetch, timeoutMs, signal }, [value, tx.codeVerifier, tx.state]);
      const result = provider.parseResult(body, { nonce: tx.nonce });
      set("authorized", tx.returnTo);
      return result;
    }, tx.returnTo);

  // Follows a shared exchange for one caller, whose own signal detaches only that caller.
  const join = (shared: Exchange, signal?: AbortSignal): Promise<Result> => {
    if (shared.owner !== listeners) {
      // Another flow object sends it: follow its outcome, so this flow's status moves too.
      set("exchanging", shared.returnTo);
      shared.promise.then(
        () => set("authorized", shared.returnTo),
        (error) => set("failed", shared.returnTo, error),
      );
    }
    shared.waiting++;
    return new Promise<Result>((resolve, reject) => {
      let left = false;
      const leave = () => {
        left = true;
        signal?.removeEventListener("abort", leave);
        const own = new PkceError("aborted", "request aborted");
        if (--shared.waiting) return reject(own);
        // The last caller: checked after this turn, so a caller that joins right after (React
        // StrictMode aborts the first effect and runs the second at once) keeps the request going.
        queueMicrotask(() => {
          if (shared.waiting) return reject(own);
          shared.abort();
          shared.promise.then(() => reject(own), reject);
        });
      };
      signal?.addEventListener("abort", leave);
      shared.promise.then(
        (value) => left || resolve(value as Result),
        (error) => left || reject(error),
      ).finally(() => signal?.removeEventListener("abort", leave));
    });
  };

  // Registers a new exchange under `keys` (before the first await) and joins it.
  const run = (keys: string[], tx: Transaction, code: () => string, signal?: AbortSignal): Promise<Result> => {
    const controller = new AbortController();
    const shared: Exchange = { promise: exchange(tx, code, controller.signal), owner: listeners, returnTo: tx.returnTo, waiting: 0, abort: () => controller.abort() };
    for (const k of keys) running().set(k, shared);
    const forget = () => keys.forEach((k) => running().delete(k));
    shared.promise.then(forget, forget);
    return join(shared, signal);
  };

  // A signal that is no AbortSignal is refused here, before anything is consumed.
  const aborted = (signal?: AbortSignal) => checkSignal(signal)?.aborted && fail("aborted", "request aborted");
  const expiry = (expired: boolean) => expired && fail("expired", "sign-in expired: start it again");

  // Runs synchronously up to the registration of the exchange, so two calls in one tick share it;
  // every throw is a rejection.
  const handle = (input: string | URL | undefined, signal?: AbortSignal, relayed?: boolean): Promise<Result | null> => {
    let url: URL;
    let entry: Entry | null;
    try {
      // Nothing is consumed, cleaned or sent for a caller that has already given up.
      aborted(signal);
      url = callbackUrl(input ?? globalThis.location?.href);
      // Rule 0: a popup's callback goes back to the tab that opened it, before any storage lookup.
      if (!relayed && isPopupCallback(url.searchParams)) {
        relay(url.href, channel);
        clean(url);
        globalThis.close();
        return Promise.resolve(null);
      }
      const shared = running().get(`${tag} ${url.href}`);
      if (shared) return join(shared, signal);
      try {
        entry = match(url);
      } catch (error) {
        // Nothing of it remains to finish (rule 4): its code leaves the address bar here, in
        // handleCallback, never in isCallback, which only answers.
        if (error instanceof PkceError && error.code === "no_transaction") clean(url);
        set("failed", null, error);
        throw error;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (!entry) return Promise.resolve(null);
    const stateless = !url.searchParams.get("state");
    if (stateless && url.searchParams.get("code")) spent.add(`${id} ${url.href}`);
    const { tx } = entry;
    // An undefined state or issuer skips that check.
    const expected = { state: stateless ? undefined : tx.state, issuer: tx.issuer ?? undefined, requireIssuer: provider.requireIssuer === true };
    // Runs inside the exchange, so a caller of the same tick shares its outcome, and before any
    // request: the transaction is gone on every outcome, a mix-up is refused first.
    const code = () => {
      store.take(tx.state);
      // RFC 9700 4.4.2: the answer must come back to the redirect URI this transaction sent; one that
      // arrives at another (another server's) was sent by a server this sign-in did not start with.
      const [got, sent] = [url, tx.redirectUri].map(page);
      if (got !== sent) fail("invalid_callback", `callback came back to ${got.slice(0, 200)}, not to this sign-in's redirect URI ${sent.slice(0, 200)} (possible mix-up): start it again`);
      expiry(entry.expired);
      return parseCallback(url, expected).code;
    };
    return run([`${tag} ${url.href}`, `${tag} ${clean(url)}`], tx, code, signal);
  };

  // Cleans the address bar unless the app said not to; gives the cleaned form of `url`.
  const clean = (url: URL): string => (options.cleanUrl === false ? url.href : cleanAddressBar(url));

  const headless = (yes: boolean) => {
    if (!provider.headless === yes) fail("invalid_config", yes ? "exchangeCode() needs a headless provider" : "a headless provider has no callback: use authorize() and exchangeCode()");
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
    authorize: (opts) => failing(async () => (await begin(opts))[0]),
    start: (opts) =>
      failing(async () => {
        headless(false);
        const [url, returnTo] = await begin(opts);
        set("redirecting", returnTo);
        // Back from the server's page out of the back/forward cache: the page works again.
        globalThis.addEventListener?.("pageshow", (event) => event.persisted && current.status === "redirecting" && set("idle"), { once: true });
        (options.navigate ?? ((href: string) => globalThis.location.assign(href)))(url.href);
      }),
    popup: (popupOptions) => {
      const opts = popupOptions ?? {};
      return failing(async () => {
        headless(false);
        aborted(opts.signal);
        // Before any await: the browser allows a popup only inside the user's click.
        const win = openPopup(opts.features);
        let state = "";
        try {
          const [url, returnTo, s] = await begin(opts, POPUP_STATE);
          state = s;
          set("redirecting", returnTo);
          win.location = url.href;
          return await awaitPopup(win, channel, state, ttlMs, opts.detectClose !== false, opts.signal);
        } catch (error) {
          if (state) store.remove(state);
          win.close();
          throw error;
        }
      }).then((href) => handle(href, opts.signal, true) as Promise<Result>);
    },
    isCallback(input) {
      try {
        const url = callbackUrl(input ?? globalThis.location?.href);
        return isPopupCallback(url.searchParams) || match(url) !== null;
      } catch {
        return false;
      }
    },
    handleCallback: (url, opts) => handle(url, opts?.signal),
    exchangeCode: (input, opts) => {
      const key = `${tag} code ${input}`;
      const shared = running().get(key);
      if (shared) {
        try {
          aborted(opts?.signal);
        } catch (error) {
          return Promise.reject(error);
        }
        return join(shared, opts?.signal);
      }
      return failing(() => {
        headless(true);
        aborted(opts?.signal);
        const code = typeof input === "string" ? input.trim() : "";
        if (!code || code.length > 8192 || !/^[\x21-\x7e]+$/.test(code)) fail("invalid_argument", "code must be the printable text the server showed (at most 8 KiB)");
        const mine = store.list().filter((e) => e.tx.provider === id).sort((a, b) => b.tx.createdAt - a.tx.createdAt);
        if (!mine.length) fail("no_transaction", "no sign-in is pending: start it again");
        return run([key], mine[0]!.tx, () => {
          for (const e of mine) store.take(e.tx.state);
          expiry(mine[0]!.expired);
          return code;
        }, opts?.signal);
      });
    },
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

// The page a URL names, as origin + path: never the query, which holds the code, so it may go
// into a message. "(none)" for a value that is no URL (a damaged entry), which matches no page.
function page(url: unknown): string {
  try {
    const { origin, pathname } = new URL(url as string);
    return origin + pathname;
  } catch {
    return "(none)";
  }
}

// Whether `url` is the page at `redirectUri` (same origin and path).
const samePage = (url: URL, redirectUri: string): boolean => page(url) === page(redirectUri);

// Same-origin check against the page; stores a path with exactly one leading "/", plus query and
// hash, so navigating to it can never leave the origin (`//evil`, `/\evil` resolve elsewhere).
function samePath(returnTo: string): string {
  try {
    const { origin } = globalThis.location;
    const url = new URL(returnTo, origin);
    const path = url.pathname + url.search + url.hash;
    if (typeof returnTo === "string" && url.origin === origin && !/^\/[/\\]/.test(path) && new URL(path, origin).origin === origin) return path;
  } catch {
    // reported below
  }
  return fail("invalid_argument", "returnTo must be a same-origin path");
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
// form of `url`. Best effort, and never throws: the transaction goes in the same turn whatever
// happens and the code is single use, so a failure here (a browser that limits replaceState calls, a page that replaced
// `history`) must not stop the sign-in or escape as a raw DOMException; at worst the spent code
// stays visible. The new address is absolute, built on this page's origin: a path (`//evil/x`) or
// a `<base href>` on another origin cannot make it resolve elsewhere.
function cleanAddressBar(url: URL): string {
  const search = strip(url.search);
  try {
    const { location, history } = globalThis;
    if (location && history) {
      const current = new URL(location.href);
      if (page(current) + current.search === page(url) + url.search) {
        history.replaceState(history.state, "", current.origin + current.pathname + search + current.hash);
      }
    }
  } catch {
    // See above: best effort.
  }
  return page(url) + search + url.hash;
}
