/**
 * A real OpenID Connect authorization server (oidc-provider 8) on loopback, for the e2e tests and
 * the demo. One public SPA client, PKCE (S256 only) required, RFC 9207 `iss` in every authorization
 * response, the built-in development login + consent pages, CORS on the token endpoint for the
 * client's own origins, signing keys generated at start (nothing committed).
 *
 * Test-only extra: `mutateDiscovery` rewrites the JSON served at
 * `{issuer}/.well-known/openid-configuration` (and only that document: the provider itself keeps
 * behaving as configured), so library tests can serve a mismatched issuer, `plain` only, etc.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// oidc-provider 8 ships no type declarations and this repo installs no @types for it; the small
// surface used here is typed by hand below (`OidcProviderConstructor`).
// The named export (rather than the default) also survives a CommonJS-bundled Vite config.
// @ts-expect-error TS7016: untyped package
import { Provider as ProviderExport } from "oidc-provider";

/** The discovery document as JSON; tests may return any shape. */
export type DiscoveryDocument = Record<string, unknown>;
export type DiscoveryMutator = (doc: DiscoveryDocument) => DiscoveryDocument;

export interface OidcServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on and to put in the issuer; default `127.0.0.1`. */
  host?: string;
  /** The one registered public client; default `pkce-flow-spa`. */
  clientId?: string;
  /** Exact redirect URIs of the client (http on loopback is fine for this `web` client). */
  redirectUris: string[];
  /** Mount the provider under a path, e.g. `/oidc` -> issuer `http://127.0.0.1:PORT/oidc`. */
  issuerPath?: string;
  /**
   * Browser origins allowed to call the token endpoint (CORS). Default: the origins of
   * `redirectUris`. `"*"` allows any origin.
   */
  corsOrigins?: string[] | "*";
  /** Adds the `offline_access` scope and the `refresh_token` grant (refresh tokens need `prompt=consent`). */
  offlineAccess?: boolean;
  /**
   * Issues a refresh token with every authorization code grant (no `offline_access` needed) and
   * rotates it on each use: a spent refresh token is refused and revokes the whole grant, as many
   * real servers do. Tokens stay bound to the login session, so RP-initiated logout ends them.
   */
  refreshTokens?: boolean;
  /** Rewrites the discovery document before it is served (see the module comment). */
  mutateDiscovery?: DiscoveryMutator;
  /**
   * Keep oidc-provider's two start-up notices about the dev-only setup (devInteractions, in-memory
   * adapter). Default false: those two are dropped; every other warning and error still prints.
   */
  verbose?: boolean;
}

export interface OidcServer {
  /** e.g. `http://127.0.0.1:PORT` (+ `issuerPath`), no trailing slash. */
  issuer: string;
  clientId: string;
  /** Swap (or with `undefined` remove) the discovery mutator at runtime. */
  setMutateDiscovery(mutator: DiscoveryMutator | undefined): void;
  close(): Promise<void>;
  /** The oidc-provider `Provider` instance (untyped on purpose). */
  provider: unknown;
}

// ---- the slice of oidc-provider's API used here ---------------------------------------------

interface KoaContext {
  host?: string;
  path: string;
  method: string;
  status: number;
  body: unknown;
  type: string;
}
interface OidcProviderInstance {
  proxy: boolean;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
type OidcProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => OidcProviderInstance;

const Provider = ProviderExport as OidcProviderConstructor;

// ---- helpers ---------------------------------------------------------------------------------

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function signingJwks(): { keys: Record<string, unknown>[] } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  return { keys: [{ ...jwk, kid: randomBytes(8).toString("hex"), alg: "RS256", use: "sig" }] };
}

function normalizeIssuerPath(path: string | undefined): string {
  if (path === undefined || path === "" || path === "/") return "";
  if (!path.startsWith("/") || path.endsWith("/") || /[?#]/.test(path)) {
    throw new TypeError(`issuerPath must look like "/oidc" (got ${JSON.stringify(path)})`);
  }
  return path;
}

// The logout confirmation and "signed out" pages, without the stock pages' web fonts (the tests
// run offline) and without their "customize this page" warnings.
function logoutSource(ctx: KoaContext, form: string): void {
  ctx.type = "html";
  ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>Sign out</title></head><body><h1>Sign out of ${escapeHtml(ctx.host ?? "")}?</h1>${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button> <button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
}

function postLogoutSuccessSource(ctx: KoaContext): void {
  ctx.type = "html";
  ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><h1>Signed out</h1></body></html>`;
}

/** The two warnings oidc-provider prints for exactly the dev setup this harness wants. */
const EXPECTED_WARNINGS = [
  "oidc-provider WARNING: a quick start development-only feature devInteractions is enabled",
  "oidc-provider WARNING: a quick start development-only in-memory adapter is used",
];

/**
 * Runs `construct` (synchronously) with those known notices filtered out of console.warn; any
 * other output, and everything printed after construction, passes through untouched.
 */
function quietly<T>(verbose: boolean, construct: () => T): T {
  if (verbose) return construct();
  const { warn } = console;
  console.warn = (...args: unknown[]) => {
    const first = typeof args[0] === "string" ? args[0] : "";
    if (EXPECTED_WARNINGS.some((expected) => first.includes(expected))) return;
    warn.apply(console, args);
  };
  try {
    return construct();
  } finally {
    console.warn = warn;
  }
}

// ---- the server ------------------------------------------------------------------------------

export async function startOidcServer(options: OidcServerOptions): Promise<OidcServer> {
  const host = options.host ?? "127.0.0.1";
  const clientId = options.clientId ?? "pkce-flow-spa";
  const issuerPath = normalizeIssuerPath(options.issuerPath);
  const redirectUris = [...options.redirectUris];
  if (redirectUris.length === 0) throw new TypeError("startOidcServer: redirectUris must not be empty");
  const corsOrigins: Set<string> | "*" =
    options.corsOrigins === "*"
      ? "*"
      : new Set(options.corsOrigins ?? redirectUris.map((uri) => new URL(uri).origin));
  let mutateDiscovery = options.mutateDiscovery;

  // Listen first: the issuer must carry the real port, and the provider needs the issuer.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (!handler) {
      res.statusCode = 503;
      res.end();
      return;
    }
    // Mount under issuerPath, the way Express mounts it: the router sees the path relative to the
    // issuer, and `originalUrl` lets oidc-provider put the prefix back into the URLs it builds.
    if (issuerPath) {
      const url = req.url ?? "/";
      if (url === issuerPath || url.startsWith(`${issuerPath}/`) || url.startsWith(`${issuerPath}?`)) {
        (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
        const rest = url.slice(issuerPath.length);
        req.url = rest.startsWith("/") ? rest : `/${rest}`;
      } else {
        res.statusCode = 404;
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.end("not found");
        return;
      }
    }
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuerHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const issuer = `http://${issuerHost}:${port}${issuerPath}`;

  const offline = options.offlineAccess === true;
  const refreshTokens = options.refreshTokens === true;
  const verbose = options.verbose === true;

  const configuration: Record<string, unknown> = {
    clients: [
      {
        client_id: clientId,
        application_type: "web",
        token_endpoint_auth_method: "none",
        grant_types: offline || refreshTokens ? ["authorization_code", "refresh_token"] : ["authorization_code"],
        response_types: ["code"],
        redirect_uris: redirectUris,
        // RP-initiated logout may send the user back to any page that may receive a callback.
        post_logout_redirect_uris: redirectUris,
      },
    ],
    ...(refreshTokens
      ? {
          issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(grant: string): boolean }) => client.grantTypeAllowed("refresh_token"),
          rotateRefreshToken: true,
        }
      : {}),
    responseTypes: ["code"],
    pkce: { methods: ["S256"], required: () => true },
    scopes: offline ? ["openid", "profile", "email", "offline_access"] : ["openid", "profile", "email"],
    claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, name: id, email: `${id}@example.test` }),
    }),
    // The SPA's origin(s) may POST to the token endpoint; discovery and jwks are open anyway.
    clientBasedCORS: (_ctx: unknown, origin: string) => corsOrigins === "*" || corsOrigins.has(origin),
    features: {
      devInteractions: { enabled: true },
      // What an SPA needs after sign-in: revoke tokens (RFC 7009), read userinfo (on by default),
      // end the session (RP-Initiated Logout); nothing else, so the metadata stays obvious.
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    cookies: {
      // Random per start: nothing to commit, and stale browser cookies from a previous run fail
      // signature checks instead of confusing the provider.
      keys: [randomBytes(32).toString("base64url")],
      // Plain http on loopback: no `Secure`, so `SameSite=None` (the default for the long-lived
      // session cookie) would be dropped by Chromium. Every hop in this flow is a same-site
      // top-level navigation or a same-origin form POST, for which `Lax` is enough.
      long: { httpOnly: true, sameSite: "lax", signed: true },
      short: { httpOnly: true, sameSite: "lax", signed: true },
    },
    jwks: signingJwks(),
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    renderError: (ctx: KoaContext, out: Record<string, unknown>) => {
      ctx.type = "html";
      const rows = Object.entries(out)
        .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v))}</dd>`)
        .join("");
      ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>oidc error</title></head><body><h1>oidc-provider error</h1><dl>${rows}</dl></body></html>`;
    },
  };

  const provider = quietly(verbose, () => new Provider(issuer, configuration));
  provider.proxy = false;

  // Real server faults must never be hidden (client errors such as invalid_grant are expected).
  provider.on("server_error", (_ctx: unknown, error: unknown) => {
    console.error("oidc-provider server_error:", error);
  });

  provider.use(async (ctx, next) => {
    await next();
    if (
      mutateDiscovery &&
      ctx.method === "GET" &&
      ctx.path === "/.well-known/openid-configuration" &&
      ctx.status === 200 &&
      typeof ctx.body === "object" &&
      ctx.body !== null
    ) {
      // Round-trip through JSON so the mutator sees exactly what would be served.
      const served = JSON.parse(JSON.stringify(ctx.body)) as DiscoveryDocument;
      ctx.body = mutateDiscovery(served);
    }
  });

  handler = provider.callback();

  let closing: Promise<void> | undefined;
  return {
    issuer,
    clientId,
    provider,
    setMutateDiscovery(mutator) {
      mutateDiscovery = mutator;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

