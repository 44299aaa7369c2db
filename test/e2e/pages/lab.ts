/**
 * The e2e "lab": a bare page (./lab.html, served by the demo's Vite dev server) that exposes the
 * library as `window.PkceFlow` and a few scenario helpers as `window.lab`, so the tests can drive
 * the low-level API with page.evaluate across real redirects.
 *
 * A scenario's provider settings are kept in sessionStorage (`lab:scenario`, outside the flow's
 * `pkce-flow:` prefix) by `begin()`, so the callback page load rebuilds the very same provider in
 * `finish()`. This page never handles a callback on its own: the test decides when, and how.
 */
import * as PkceFlow from "../../../src/index.ts";
import type { FlowStatus, OAuth2Options, OAuth2Result, PkceErrorCode, Provider } from "../../../src/index.ts";

/** How to build the scenario's provider, on the start page and again on the callback page. */
export type LabScenario =
  | { kind: "discover"; issuer: string; clientId: string; scope?: string[] }
  | { kind: "oauth2"; options: Omit<OAuth2Options, "redirectUri"> };

/** An error, flattened so it survives page.evaluate. */
export interface LabError {
  name: string;
  code: string | null;
  message: string;
  /** `isPkceError(e)` */
  isPkceError: boolean;
  /** `isPkceError(e, expected)` when an expected code was given, else null. */
  matchesExpected: boolean | null;
  status?: number;
  error?: string | null;
  errorDescription?: string | null;
}

export type LabOutcome<T> = { ok: true; value: T } | { ok: false; error: LabError };

export interface LabFinish {
  outcome: LabOutcome<{ accessToken: string; tokenType: string; idToken: string | null } | null>;
  /** URLs the flow's `fetch` (FlowOptions.fetch) was called with. */
  flowFetches: string[];
  /** The verifier written over the stored one by `tamperVerifier`, else null. */
  tamperedVerifier: string | null;
  status: FlowStatus;
  /** `pkce-flow:` keys left in sessionStorage afterwards. */
  pkceKeys: string[];
  /** The address bar afterwards. */
  href: string;
}

export interface LabDiscovery {
  issuer: string | null;
  requireIssuer: boolean;
  codeChallengeMethod: string;
  authorizationUrl: string;
}

const SCENARIO_KEY = "lab:scenario";
const PREFIX = "pkce-flow:";
const redirectUri = `${location.origin}${location.pathname}`;

function flatten(error: unknown, expected?: PkceErrorCode): LabError {
  const e = (typeof error === "object" && error !== null ? error : { message: String(error) }) as Record<string, unknown>;
  const out: LabError = {
    name: typeof e["name"] === "string" ? e["name"] : typeof error,
    code: typeof e["code"] === "string" ? e["code"] : null,
    message: typeof e["message"] === "string" ? e["message"] : "",
    isPkceError: PkceFlow.isPkceError(error),
    matchesExpected: expected === undefined ? null : PkceFlow.isPkceError(error, expected),
  };
  if (error instanceof PkceFlow.TokenError) {
    out.status = error.status;
    out.error = error.error;
    out.errorDescription = error.errorDescription;
  } else if (error instanceof PkceFlow.AuthorizationError) {
    out.error = error.error;
    out.errorDescription = error.errorDescription;
  }
  return out;
}

async function outcome<T>(run: () => Promise<T>, expected?: PkceErrorCode): Promise<LabOutcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error: flatten(error, expected) };
  }
}

function provider(scenario: LabScenario): Promise<Provider<OAuth2Result>> {
  if (scenario.kind === "discover") {
    return PkceFlow.discover(scenario.issuer, {
      clientId: scenario.clientId,
      redirectUri,
      ...(scenario.scope ? { scope: scenario.scope } : {}),
    });
  }
  return Promise.resolve(PkceFlow.oauth2({ ...scenario.options, redirectUri }));
}

const pkceKeys = (): string[] => Object.keys(sessionStorage).filter((key) => key.startsWith(PREFIX));

const lab = {
  /** This page's own URL, the redirect URI of every scenario. */
  redirectUri,

  /** Stores the scenario, creates the transaction and returns the authorization URL (no navigation). */
  async begin(scenario: LabScenario): Promise<string> {
    sessionStorage.setItem(SCENARIO_KEY, JSON.stringify(scenario));
    const flow = PkceFlow.createFlow(await provider(scenario));
    return (await flow.authorize()).href;
  },

  /**
   * On the callback page: rebuilds the scenario's provider and runs `flow.handleCallback()` with a
   * counting `fetch`. `tamperVerifier` first overwrites the stored transaction's code verifier
   * with another valid one.
   */
  async finish(options: { tamperVerifier?: boolean; expect?: PkceErrorCode } = {}): Promise<LabFinish> {
    const scenario = JSON.parse(sessionStorage.getItem(SCENARIO_KEY) ?? "null") as LabScenario | null;
    if (!scenario) throw new Error("lab.finish: no scenario stored; call lab.begin first");
    let tamperedVerifier: string | null = null;
    if (options.tamperVerifier) {
      const key = `${PREFIX}${new URL(location.href).searchParams.get("state") ?? ""}`;
      const stored = sessionStorage.getItem(key);
      if (stored === null) throw new Error("lab.finish: no stored transaction for this callback's state");
      const tx = JSON.parse(stored) as { codeVerifier: string };
      do tamperedVerifier = PkceFlow.generateCodeVerifier();
      while (tamperedVerifier === tx.codeVerifier);
      sessionStorage.setItem(key, JSON.stringify({ ...tx, codeVerifier: tamperedVerifier }));
    }
    const flowFetches: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      flowFetches.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    };
    const flow = PkceFlow.createFlow(await provider(scenario), { fetch: countingFetch });
    const result = await outcome(async () => {
      const value = await flow.handleCallback();
      return value && { accessToken: value.accessToken, tokenType: value.tokenType, idToken: value.idToken ?? null };
    }, options.expect);
    return { outcome: result, flowFetches, tamperedVerifier, status: flow.status, pkceKeys: pkceKeys(), href: location.href };
  },

  /** Runs `discover()` in this page and describes the provider it returns (or the error). */
  discover(issuer: string, clientId: string, expected?: PkceErrorCode): Promise<LabOutcome<LabDiscovery>> {
    return outcome(async () => {
      const p = await PkceFlow.discover(issuer, { clientId, redirectUri });
      return {
        issuer: p.issuer ?? null,
        requireIssuer: p.requireIssuer === true,
        codeChallengeMethod: p.codeChallengeMethod,
        authorizationUrl: p.authorizationUrl({ state: "s", codeChallenge: "c", codeChallengeMethod: "S256" }).href,
      };
    }, expected);
  },

  pkceKeys,
};

export type Lab = typeof lab;

declare global {
  interface Window {
    PkceFlow: typeof PkceFlow;
    lab: Lab;
  }
}

window.PkceFlow = PkceFlow;
window.lab = lab;
document.documentElement.dataset["lab"] = "ready";
