/**
 * Vite plugin for `npm run demo`: starts the oidc-provider harness (./server.ts) next to the dev
 * server, registers the dev server's own loopback origins as the client's redirect URIs (and CORS
 * origins), and stops it when the dev server closes. Dev only (`vite build` and Vitest skip it).
 *
 * The page reads the issuer from a virtual module:
 *
 *   import { issuer, clientId, redirectUris } from "virtual:pkce-flow/oidc";
 *   const provider = await discover(issuer, { clientId, redirectUri: new URL("/", location.href).href });
 *
 * The issuer listens on a fixed port, http://127.0.0.1:9011 (`PKCE_DEMO_OIDC_PORT` changes it), so
 * your own app can use it too: list your app's callback URLs, separated by spaces or commas, in
 * `PKCE_DEMO_OIDC_REDIRECT_URIS` (they become redirect URIs, post-logout redirect URIs and CORS
 * origins of the client `pkce-flow-spa`):
 *
 *   PKCE_DEMO_OIDC_REDIRECT_URIS="http://localhost:3000/callback" npm run demo
 *
 * TypeScript needs an ambient declaration for it (in a global .d.ts such as demo/env.d.ts):
 *
 *   declare module "virtual:pkce-flow/oidc" {
 *     export const issuer: string;
 *     export const clientId: string;
 *     export const redirectUris: readonly string[];
 *   }
 */
import type { AddressInfo } from "node:net";
import type { Plugin, ViteDevServer } from "vite";
import { startOidcServer, type OidcServer } from "./server.ts";

export const OIDC_VIRTUAL_MODULE = "virtual:pkce-flow/oidc";
const RESOLVED_ID = `\0${OIDC_VIRTUAL_MODULE}`;

/** What `virtual:pkce-flow/oidc` exports. */
export interface OidcVirtualModule {
  issuer: string;
  clientId: string;
  redirectUris: readonly string[];
}

export interface OidcDevPluginOptions {
  /** Issuer port. @default `PKCE_DEMO_OIDC_PORT`, else 9011 (0 picks a free one). */
  port?: number;
  /** More redirect URIs (an app of your own). @default `PKCE_DEMO_OIDC_REDIRECT_URIS`, split on spaces and commas */
  extraRedirectUris?: string[];
  clientId?: string;
  issuerPath?: string;
  /**
   * Paths on the dev server that may receive the callback; each is registered on every loopback
   * origin of the dev server (`localhost`, `127.0.0.1`, `[::1]` + the port it listens on).
   * Default: `/`, `/index.html`, `/demo/script-tag.html`, `/demo/oauth2.html`.
   */
  callbackPaths?: string[];
}

const DEFAULT_CALLBACK_PATHS = ["/", "/index.html", "/demo/script-tag.html", "/demo/oauth2.html"];

/** The issuer's port for `npm run demo`, fixed so other apps can be pointed at it. */
export const DEFAULT_OIDC_PORT = 9011;

function envPort(): number {
  const value = process.env.PKCE_DEMO_OIDC_PORT;
  return value && /^\d+$/.test(value) ? Number(value) : DEFAULT_OIDC_PORT;
}

function envRedirectUris(): string[] {
  return (process.env.PKCE_DEMO_OIDC_REDIRECT_URIS ?? "").split(/[\s,]+/).filter(Boolean);
}

function loopbackOrigins(server: ViteDevServer): string[] {
  const origins = new Set<string>();
  const address = server.httpServer?.address();
  if (address && typeof address === "object") {
    const { port } = address as AddressInfo;
    for (const host of ["localhost", "127.0.0.1", "[::1]"]) origins.add(`http://${host}:${port}`);
  }
  for (const url of server.resolvedUrls?.local ?? []) {
    const { hostname, origin } = new URL(url);
    if (["localhost", "127.0.0.1", "[::1]"].includes(hostname)) origins.add(origin);
  }
  return [...origins];
}

export function oidcDevServer(options: OidcDevPluginOptions = {}): Plugin {
  // One harness per dev-server instance (a config change restarts Vite and calls configureServer again).
  let started: Promise<{ oidc: OidcServer; redirectUris: string[] }> | undefined;

  return {
    name: "pkce-flow:oidc-dev-server",
    apply: (_config, env) => env.command === "serve" && !process.env.VITEST,

    configureServer(server) {
      const { httpServer } = server;
      if (!httpServer) return; // middleware mode: nothing to listen next to

      const current = new Promise<{ oidc: OidcServer; redirectUris: string[] }>((resolve, reject) => {
        httpServer.once("listening", () => {
          const paths = options.callbackPaths ?? DEFAULT_CALLBACK_PATHS;
          const redirectUris = [
            ...loopbackOrigins(server).flatMap((origin) => paths.map((path) => new URL(path, origin).href)),
            ...(options.extraRedirectUris ?? envRedirectUris()),
          ];
          startOidcServer({
            redirectUris,
            refreshTokens: true,
            port: options.port ?? envPort(),
            ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
            ...(options.issuerPath === undefined ? {} : { issuerPath: options.issuerPath }),
          }).then((oidc) => {
            server.config.logger.info(`  ➜  OIDC issuer: ${oidc.issuer}  (client_id ${oidc.clientId}; more redirect URIs: PKCE_DEMO_OIDC_REDIRECT_URIS)`);
            resolve({ oidc, redirectUris });
          }, reject);
        });
      });
      current.catch((error: unknown) => {
        server.config.logger.error(`pkce-flow: the OIDC dev server did not start: ${String(error)}`);
      });
      started = current;

      httpServer.once("close", () => {
        void current.then(({ oidc }) => oidc.close(), () => undefined);
      });
    },

    // The pages read the issuer from <meta> tags (no inline script, so a strict CSP holds).
    async transformIndexHtml() {
      if (!started) return [];
      const { oidc } = await started;
      return [
        { tag: "meta", attrs: { name: "pkce-demo-oidc-issuer", content: oidc.issuer }, injectTo: "head-prepend" as const },
        { tag: "meta", attrs: { name: "pkce-demo-oidc-client", content: oidc.clientId }, injectTo: "head-prepend" as const },
      ];
    },

    resolveId(id) {
      return id === OIDC_VIRTUAL_MODULE ? RESOLVED_ID : undefined;
    },

    async load(id) {
      if (id !== RESOLVED_ID) return undefined;
      if (!started) throw new Error(`${OIDC_VIRTUAL_MODULE} is only available from the Vite dev server (npm run demo)`);
      const { oidc, redirectUris } = await started;
      const exported: OidcVirtualModule = { issuer: oidc.issuer, clientId: oidc.clientId, redirectUris };
      return Object.entries(exported)
        .map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};`)
        .join("\n");
    },
  };
}
