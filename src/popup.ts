import { PkceError, fail } from "./errors.js";

/**
 * @internal Starts the `state` of every popup transaction. The popup's callback page must know it
 * is one without reading storage: its sessionStorage is a copy made when the window opened, before
 * the transaction existed. The "." is outside base64url, so no ordinary state carries it; the 256
 * random bits that follow keep the state unguessable.
 */
export const POPUP_STATE = "pkce-popup.";

// The same-origin channel, where the browser has one (Safari before 15.4 does not: the opener's
// `postMessage` alone carries the relay there).
const channelFor = (name: string): BroadcastChannel | undefined => globalThis.BroadcastChannel && new BroadcastChannel(name);

/** @internal Whether a callback query is a popup's: `code` or `error`, and a popup `state`. */
export const isPopupCallback = (query: URLSearchParams): boolean =>
  !!(query.get("code") || query.get("error")) && !!query.get("state")?.startsWith(POPUP_STATE);

/**
 * @internal Opens the popup: must run synchronously inside the user's click, or the browser
 * blocks it. Default features: about 500 x 700, centred on the opening window.
 * @throws {PkceError} `popup_blocked`.
 */
export function openPopup(features?: string): Window {
  const { screenX: x, screenY: y, outerWidth: w, outerHeight: h } = globalThis;
  return (
    globalThis.open?.("", "_blank", features ?? `width=500,height=700,left=${x + (w - 500) / 2},top=${y + (h - 700) / 2}`) ||
    fail("popup_blocked", "the browser blocked the popup: call popup() in the click handler, before any await")
  );
}

/**
 * @internal The popup's side: hands the callback URL to the opening tab on a same-origin
 * BroadcastChannel (survives a Cross-Origin-Opener-Policy that cut `window.opener`) and, where the
 * opener still exists, by `postMessage` to exactly this origin.
 */
export function relay(href: string, name: string): void {
  const message = { [name]: href };
  const channel = channelFor(name);
  channel?.postMessage(message);
  channel?.close();
  globalThis.opener?.postMessage(message, location.origin);
}

/**
 * @internal The opening tab's side: resolves the callback URL relayed for `state` (anything else
 * on the channel is ignored). Rejects `popup_closed` once the window has looked closed for half a
 * second (unless `detectClose` is false: a Cross-Origin-Opener-Policy can make an open popup look
 * closed), `aborted`, or `expired` after `ttlMs`. Every listener and timer is gone when it settles.
 */
export function awaitPopup(win: Window, name: string, state: string, ttlMs: number, detectClose: boolean, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const channel = channelFor(name);
    let closed = 0;
    const end = (error: PkceError | null, href?: string) => {
      channel?.close();
      removeEventListener("message", onMessage);
      signal?.removeEventListener("abort", onAbort);
      clearInterval(poll);
      clearTimeout(timer);
      error ? reject(error) : resolve(href!);
    };
    const take = (data: unknown) => {
      try {
        const href = (data as Record<string, unknown>)[name];
        if (typeof href == "string" && new URL(href).searchParams.get("state") === state) end(null, href);
      } catch {
        // Not a relay.
      }
    };
    // Only this origin, and only the popup itself when the event names its source.
    const onMessage = (event: MessageEvent) => event.origin === location.origin && (!event.source || event.source === win) && take(event.data);
    const onAbort = () => end(new PkceError("aborted", "request aborted"));
    // The popup closes itself right after relaying: a grace of two more polls lets the relay win.
    const poll = detectClose ? setInterval(() => win.closed && ++closed > 2 && end(new PkceError("popup_closed", "the popup was closed before sign-in finished")), 250) : undefined;
    const timer = setTimeout(() => end(new PkceError("expired", "sign-in expired: start it again")), ttlMs);
    if (channel) channel.onmessage = (event) => take(event.data);
    addEventListener("message", onMessage);
    signal?.aborted ? onAbort() : signal?.addEventListener("abort", onAbort);
  });
}
