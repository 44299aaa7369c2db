import type { HtmlTagDescriptor, Plugin } from "vite";

/** Where the demo pages find their servers; unset values keep the pages' defaults. */
export interface DemoPagesOptions {
  /** Base URL of the OpenRouter emulator. Default on the page: `{origin}/openrouter`. */
  emulatorUrl?: string | undefined;
  /** Issuer of the OpenID Connect server for the generic demo page. */
  oidcIssuer?: string | undefined | (() => Promise<string | undefined>);
  /** Its client id. */
  oidcClientId?: string | undefined;
}

/**
 * Tells the demo pages where their servers are, as `<meta>` tags: no inline script, so the pages
 * also run under a strict Content-Security-Policy.
 */
export function demoPages(options: DemoPagesOptions = {}): Plugin {
  return {
    name: "pkce-flow:demo-pages",
    async transformIndexHtml() {
      const issuer = typeof options.oidcIssuer === "function" ? await options.oidcIssuer() : options.oidcIssuer;
      const tags: HtmlTagDescriptor[] = [];
      const meta = (name: string, content: string | undefined) => {
        if (content) tags.push({ tag: "meta", attrs: { name, content }, injectTo: "head-prepend" });
      };
      meta("pkce-demo-emulator", options.emulatorUrl);
      meta("pkce-demo-oidc-issuer", issuer);
      meta("pkce-demo-oidc-client", options.oidcClientId);
      return tags;
    },
  };
}
