/**
 * The e2e page for what comes after sign-in (./session.html): sign in with discover() + createFlow,
 * then refresh, userinfo, revoke and logoutUrl, all through `window.session` for page.evaluate.
 *
 * Tokens are kept in localStorage (`session:tokens`), so two tabs of this page share them, as the
 * README's "Sessions" recipe describes for apps that want that. The scenario (`session:config`) is
 * kept in localStorage too, so the callback page load and a second tab build the same provider.
 */
import { createFlow, discover, isPkceError, logoutUrl, oauth2, refresh, revoke, TokenError, userinfo } from "../../../src/index.ts";
import type { OAuth2Provider, OAuth2Result, ParamValue } from "../../../src/index.ts";
// The README's "Sessions" recipe, byte for byte but for the import (checked by the e2e test).
import { createSession } from "./session-recipe.ts";

/** Where the recipe keeps tokens. */
export type RecipeStorage = "memory" | "sessionStorage" | "localStorage";

type RecipeSession = ReturnType<typeof createSession>;
let recipe: RecipeSession | undefined;
const recipeSession = async (kind: RecipeStorage, early?: number): Promise<RecipeSession> =>
  (recipe = createSession(await provider(), {
    storage: kind === "memory" ? null : kind === "localStorage" ? localStorage : sessionStorage,
    ...(early === undefined ? {} : { early }),
  }));

export interface SessionConfig {
  issuer: string;
  clientId: string;
  /** Send the token request here instead (a proxy in front of the real endpoint). */
  tokenEndpoint?: string;
  /** Per-request authorization parameters (`start({ params })`). */
  params?: Record<string, ParamValue>;
}

export interface SessionError {
  name: string;
  code: string | null;
  message: string;
  status?: number;
  error?: string | null;
  errorDescription?: string | null;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SessionError };

/** What the page keeps (and shows the tests; the tokens themselves only where a test needs them). */
export interface Stored {
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  claims: Record<string, unknown> | null;
  expiresAt: number | null;
}

/** An action run by {@link session.arm}: its outcome, and when (Date.now()) it started and ended. */
export interface Timed<T> {
  outcome: T;
  started: number;
  ended: number;
}

const CONFIG_KEY = "session:config";
const GO = "session:go";
const SIGNED_OUT = "session:signed-out";
let armed: Promise<Timed<unknown>> | undefined;
let lastSent: string | null = null;
const TOKENS_KEY = "session:tokens";
const redirectUri = `${location.origin}${location.pathname}`;

function flatten(error: unknown): SessionError {
  const e = (error ?? {}) as Record<string, unknown>;
  const out: SessionError = { name: String(e["name"]), code: isPkceError(error) ? error.code : null, message: String(e["message"] ?? error) };
  if (error instanceof TokenError) Object.assign(out, { status: error.status, error: error.error, errorDescription: error.errorDescription });
  return out;
}

async function outcome<T>(run: () => Promise<T> | T): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error: flatten(error) };
  }
}

async function provider(): Promise<OAuth2Provider> {
  const config = JSON.parse(localStorage.getItem(CONFIG_KEY) ?? "null") as SessionConfig | null;
  if (!config) throw new Error("no scenario: call session.begin() first");
  const found = await discover(config.issuer, { clientId: config.clientId, redirectUri, scope: ["openid", "profile", "email"] });
  if (!config.tokenEndpoint) return found;
  return oauth2({
    clientId: config.clientId,
    issuer: config.issuer,
    requireIssuer: found.requireIssuer === true,
    authorizationEndpoint: found.authorizationEndpoint,
    tokenEndpoint: config.tokenEndpoint,
    redirectUri,
    scope: ["openid", "profile", "email"],
  });
}

const stored = (): Stored | null => JSON.parse(localStorage.getItem(TOKENS_KEY) ?? "null") as Stored | null;
const keep = (result: OAuth2Result, previous: Stored | null = null) => {
  const next: Stored = {
    accessToken: result.accessToken,
    refreshToken: result.refreshToken ?? null,
    // A refresh without a new ID token keeps the earlier one and its claims.
    idToken: result.idToken ?? previous?.idToken ?? null,
    claims: (result.claims as Record<string, unknown> | undefined) ?? previous?.claims ?? null,
    expiresAt: result.expiresAt ?? null,
  };
  localStorage.setItem(TOKENS_KEY, JSON.stringify(next));
  return next;
};

const session = {
  /** Stores the scenario, creates the transaction and returns the authorization URL. */
  async begin(config: SessionConfig): Promise<string> {
    localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    const flow = createFlow(await provider());
    const options = config.params ? { params: config.params } : {};
    return (await flow.authorize(options as Parameters<typeof flow.authorize>[0])).href;
  },
  /** Handles the callback in the address bar and keeps the tokens. */
  finish: () =>
    outcome(async () => {
      const result = await createFlow(await provider()).handleCallback();
      return result ? { stored: keep(result), hasClaims: result.claims !== undefined, frozen: Object.isFrozen(result.claims) } : null;
    }),
  stored,
  /** The refresh token this tab's last `refresh()` sent, whether or not the server took it. */
  lastSent: () => lastSent,
  /** Refreshes with the token read from shared storage, inside the cross-tab lock. */
  refresh: (mode: "locked" | "unlocked" = "locked", given?: string) =>
    outcome(async () => {
      const previous = stored();
      const claims = previous?.claims as OAuth2Result["claims"];
      const p = await provider();
      let sent: string | null = null;
      // "unlocked": the token given (or read once, up front) and no lock: what an app without the recipe does.
      const token = mode === "locked" ? () => (sent = stored()?.refreshToken ?? null) : (sent = given ?? previous!.refreshToken!);
      try {
        await refresh(p, token, { claims, save: (r) => void keep(r, stored()) });
      } finally {
        lastSent = sent;
      }
      return { sent, stored: stored()! };
    }),
  userinfo: (accessToken = stored()?.accessToken ?? "") =>
    outcome(async () => userinfo(await provider(), accessToken, { claims: stored()?.claims as OAuth2Result["claims"] })),
  revoke: (token: string, hint?: "access_token" | "refresh_token") => outcome(async () => revoke(await provider(), token, hint ? { tokenTypeHint: hint } : {})),
  logoutUrl: async () => logoutUrl(await provider(), { idTokenHint: stored()?.idToken ?? undefined, postLogoutRedirectUri: redirectUri, state: "bye" }).href,
  /** The recipe: finish the sign-in into a session kept in `kind`. */
  recipeFinish: (kind: RecipeStorage, early?: number) =>
    outcome(async () => {
      const session = await recipeSession(kind, early);
      const result = await createFlow(await provider()).handleCallback();
      if (result) session.signedIn(result);
      return session.tokens;
    }),
  /** The recipe in another tab: a session over the same storage. */
  recipeOpen: (kind: RecipeStorage, early?: number) => outcome(async () => (await recipeSession(kind, early)).tokens),
  recipeTokens: () => recipe?.tokens ?? null,
  recipeRefresh: () => outcome(async () => (await recipe!.refresh(), recipe!.tokens)),
  recipeSignOut: () => outcome(() => recipe!.signOut({ postLogoutRedirectUri: redirectUri })),
  /**
   * Starts `recipeSignOut()` and returns at once: the page navigates away while it is answering.
   * Its outcome is kept in sessionStorage (`session:signed-out`) if the page is still there to write it.
   */
  recipeSignOutSoon(): void {
    void session.recipeSignOut().then((result) => sessionStorage.setItem(SIGNED_OUT, JSON.stringify(result)));
  },
  /**
   * Readies `action` to run in this tab when `session.go()` is called in any tab of this origin
   * (a BroadcastChannel message reaches them all at once), so tabs really act at the same time even
   * where the driver sends its commands one after the other (WebDriver classic). `session.armed()`
   * then gives the outcome and timing.
   */
  arm(action: "refresh" | "unlocked" | "recipeRefresh", token?: string): void {
    const channel = new BroadcastChannel(GO);
    armed = new Promise((resolve) => {
      channel.onmessage = () => {
        channel.close();
        const started = Date.now();
        const run = action === "recipeRefresh" ? session.recipeRefresh() : session.refresh(action === "refresh" ? "locked" : "unlocked", token);
        void run.then((outcome: unknown) => resolve({ outcome, started, ended: Date.now() }));
      };
    });
  },
  /** Starts what every tab has armed. */
  go(): void {
    const channel = new BroadcastChannel(GO);
    channel.postMessage("go");
    channel.close();
  },
  /** The armed action's outcome and timing, once it is done. */
  armed: () => armed ?? Promise.reject(new Error("nothing armed in this tab")),
  /** Forgets the tokens (signing out locally). */
  forget: () => localStorage.removeItem(TOKENS_KEY),
};

/** What the page offers the tests. */
export type SessionApi = typeof session;

declare global {
  interface Window {
    session: typeof session;
  }
}

window.session = session;
document.documentElement.dataset["session"] = "ready";
