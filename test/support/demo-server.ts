import { fileURLToPath } from "node:url";
import { createServer, type ViteDevServer } from "vite";
import { startEmulator, type RunningEmulator } from "../../demo/emulator/server.ts";
import { startOidcServer, type OidcServer, type OidcServerOptions } from "../../demo/oidc/server.ts";
import { freePort } from "./local.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface DemoServers {
  /** The demo app's origin, e.g. http://127.0.0.1:41000 */
  app: string;
  /** The OpenRouter emulator, on another port (so CORS is real). */
  emulator: RunningEmulator;
  close(): Promise<void>;
}

export interface DemoOptions {
  /**
   * Also start the OpenID Connect server (demo/oidc/server.ts) on its own loopback port, with the
   * demo app's callback pages as the client's redirect URIs (and CORS origin), and point
   * demo/oauth2.html at it (`PKCE_DEMO_OIDC_ISSUER`).
   */
  oidc?: boolean;
  /**
   * Paths on the demo app registered as redirect URIs when `oidc` is set. Default:
   * `/demo/oauth2.html` and the e2e lab page `/test/e2e/pages/lab.html`.
   */
  oidcCallbackPaths?: string[];
  /** More settings for the OpenID Connect server, e.g. `{ refreshTokens: true }`. */
  oidcOptions?: Omit<OidcServerOptions, "redirectUris">;
}

/** The paths registered as redirect URIs by `startDemo({ oidc: true })` by default. */
export const OIDC_CALLBACK_PATHS = ["/demo/oauth2.html", "/test/e2e/pages/lab.html"];

/**
 * Starts the standalone OpenRouter emulator and the demo's Vite dev server on two loopback ports,
 * with the demo pages pointed at the emulator. The IIFE page needs `npm run build` first.
 * With `{ oidc: true }` an OpenID Connect server (oidc-provider) runs on a third port.
 */
export async function startDemo(): Promise<DemoServers>;
export async function startDemo(options: DemoOptions & { oidc: true }): Promise<DemoServers & { oidc: OidcServer }>;
export async function startDemo(options?: DemoOptions): Promise<DemoServers & { oidc?: OidcServer }>;
export async function startDemo(options: DemoOptions = {}): Promise<DemoServers & { oidc?: OidcServer }> {
  const emulator = await startEmulator();
  let oidc: OidcServer | undefined;
  let port = 0;
  let vite: ViteDevServer;
  try {
    if (options.oidc) {
      // The redirect URIs must carry the app's port before the app listens: reserve one first
      // (Vite then takes it with `strictPort`).
      port = await freePort();
      const origin = `http://127.0.0.1:${port}`;
      oidc = await startOidcServer({
        ...options.oidcOptions,
        redirectUris: (options.oidcCallbackPaths ?? OIDC_CALLBACK_PATHS).map((path) => new URL(path, origin).href),
      });
      process.env.PKCE_DEMO_OIDC_ISSUER = oidc.issuer;
    }
    process.env.PKCE_DEMO_EMULATOR_URL = emulator.url;
    vite = await createServer({
      root,
      configFile: `${root}/vite.config.ts`,
      logLevel: "silent",
      server: { host: "127.0.0.1", port, strictPort: port !== 0, hmr: false, ws: false },
    });
    try {
      await vite.listen();
    } catch (error) {
      await vite.close();
      throw error;
    }
  } catch (error) {
    await oidc?.close();
    await emulator.close();
    throw error;
  } finally {
    delete process.env.PKCE_DEMO_EMULATOR_URL;
    if (oidc) delete process.env.PKCE_DEMO_OIDC_ISSUER;
  }
  const app = vite.resolvedUrls!.local[0]!.replace(/\/$/, "");
  if (oidc && app !== `http://127.0.0.1:${port}`) {
    await Promise.all([vite.close(), oidc.close(), emulator.close()]);
    throw new Error(`startDemo: the demo app listens on ${app}, not on the reserved port ${port}`);
  }
  return {
    app,
    emulator,
    ...(oidc ? { oidc } : {}),
    async close() {
      await vite.close();
      await oidc?.close();
      await emulator.close();
    },
  };
}

/**
 * Answers the emulator's consent page shown in `page` from Node (Allow by default) without the
 * browser following the answer, and gives the callback URL the emulator sent back, so a test can
 * alter it or open it elsewhere before any page loads it.
 */
export async function decideConsent(page: { getAttribute(selector: string, name: string): Promise<string | null> }, emulatorUrl: string, decision: "allow" | "deny" = "allow"): Promise<string> {
  const request = await page.getAttribute('input[name="request"]', "value");
  const decided = await fetch(`${emulatorUrl}/auth`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ request: request!, decision }),
    redirect: "manual",
  });
  return decided.headers.get("location")!;
}
