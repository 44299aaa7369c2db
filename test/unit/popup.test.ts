// flow.popup() and the popup's side of handleCallback (src/popup.ts). Runs in happy-dom and in real
// browsers: window.open returns a fake window (a real popup exists in neither), the channel is a
// fake BroadcastChannel unless a test says otherwise, and the clock is faked wherever time matters.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthorizationError, createFlow, oauth2, openRouter } from "../../src/index.ts";
import type { Flow, FlowOptions, FlowStatus, OAuth2Result, OpenRouterResult, PopupOptions, Provider } from "../../src/index.ts";
import type { Transaction } from "../../src/storage.ts";
import { rejection } from "./helpers/errors.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { pageUrl, restorePageAfterEach, showInAddressBar } from "./helpers/page.ts";
import { errorSurfaces, leaked, recordConsole } from "./helpers/secrets.ts";
import { MemoryStorage, keysWithPrefix } from "./helpers/storage.ts";

const PREFIX = "pkce-flow:";
const CHANNEL = `${PREFIX}popup`;
const OPENROUTER = "https://openrouter.example";
const AS = "https://as.example";
const CODE = "Code-SENTINEL-91c3d2aa";
const KEY = "sk-or-v1-KEY-SENTINEL-5e0b7f13";

/** What `window.open` hands back in these tests: records where it was sent and whether it was closed. */
class FakePopup {
  closed = false;
  location = "";
  closeCalls = 0;
  close(): void {
    this.closeCalls++;
    this.closed = true;
  }
}

/** A BroadcastChannel over an in-page registry: delivers to the other open channels of the name, as a task would, after the current microtasks. */
class FakeChannel {
  static readonly open = new Set<FakeChannel>();
  static readonly posted: Array<{ name: string; data: unknown }> = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  constructor(readonly name: string) {
    FakeChannel.open.add(this);
  }
  postMessage(data: unknown): void {
    FakeChannel.posted.push({ name: this.name, data });
    const copy = structuredClone(data);
    for (const other of FakeChannel.open) {
      if (other !== this && other.name === this.name) queueMicrotask(() => other.onmessage?.(new MessageEvent("message", { data: copy })));
    }
  }
  close(): void {
    FakeChannel.open.delete(this);
  }
}

let consoleRecord: ReturnType<typeof recordConsole>;
let popupWindow: FakePopup;
let openSpy: ReturnType<typeof vi.fn>;
/** The "message" listeners added to the window during the test, and those removed. */
let messageListeners: { added: unknown[]; removed: unknown[] };

restorePageAfterEach();
beforeEach(() => {
  consoleRecord = recordConsole();
  FakeChannel.open.clear();
  FakeChannel.posted.length = 0;
  vi.stubGlobal("BroadcastChannel", FakeChannel);
  popupWindow = new FakePopup();
  openSpy = vi.fn(() => popupWindow);
  vi.stubGlobal("open", openSpy);
  messageListeners = { added: [], removed: [] };
  const add = globalThis.addEventListener.bind(globalThis);
  const remove = globalThis.removeEventListener.bind(globalThis);
  vi.stubGlobal("addEventListener", (type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    if (type === "message") messageListeners.added.push(listener);
    add(type, listener, options);
  });
  vi.stubGlobal("removeEventListener", (type: string, listener: EventListener, options?: EventListenerOptions) => {
    if (type === "message") messageListeners.removed.push(listener);
    remove(type, listener, options);
  });
});
afterEach(() => {
  const output = consoleRecord.text();
  consoleRecord.restore();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  expect(output).not.toContain(CODE);
  expect(output).not.toContain(KEY);
});

function openRouterProvider(): Provider<OpenRouterResult> {
  return openRouter({ callbackUrl: `${pageUrl()}?keep=1`, baseUrl: OPENROUTER });
}

function oauth2Provider(): Provider<OAuth2Result> {
  return oauth2({ clientId: "my-spa", authorizationEndpoint: `${AS}/authorize`, tokenEndpoint: `${AS}/token`, redirectUri: pageUrl(), scope: "profile", issuer: AS });
}

interface Case<R> {
  name: string;
  provider: () => Provider<R>;
  /** Where the server sends the popup back, for the authorization URL the popup was sent to. */
  callback: (auth: URL, params?: string) => string;
  success: () => Response;
  result: R;
}

const OAUTH2_TOKENS = { access_token: KEY, token_type: "Bearer", expires_in: 3600 };
const CASES = [
  {
    name: "OpenRouter",
    provider: openRouterProvider,
    // OpenRouter appends the code to the callback_url it was given, which carries the state.
    callback: (auth, params = `code=${CODE}`) => `${auth.searchParams.get("callback_url")}&${params}`,
    success: () => json(200, { key: KEY, user_id: "user_1" }),
    result: { key: KEY, userId: "user_1" },
  } satisfies Case<OpenRouterResult>,
  {
    name: "oauth2",
    provider: oauth2Provider,
    callback: (auth, params = `code=${CODE}`) => `${auth.searchParams.get("redirect_uri")}?${params}&state=${auth.searchParams.get("state")}&iss=${encodeURIComponent(AS)}`,
    success: () => json(200, OAUTH2_TOKENS),
    result: { accessToken: KEY, tokenType: "Bearer", expiresIn: 3600, expiresAt: expect.any(Number), raw: OAUTH2_TOKENS },
  } satisfies Case<OAuth2Result>,
] as Case<unknown>[];

/** A flow with a fetch recorder answering the provider's success, and the statuses it went through. */
function setup<R>(c: Case<R>, options: FlowOptions = {}, respond: Parameters<typeof fetchRecorder>[0] = () => c.success()) {
  const recorder = fetchRecorder(respond);
  const flow = createFlow(c.provider(), { fetch: recorder.fetch, ...options });
  const statuses: FlowStatus[] = [flow.status];
  flow.subscribe((snapshot) => statuses.push(snapshot.status));
  return { recorder, flow, statuses };
}

/** Calls popup() and waits until the window has been sent to the server; gives the URL it was sent to. */
async function openAtServer<R>(flow: Flow<R>, options?: PopupOptions): Promise<{ promise: Promise<R>; auth: URL }> {
  const redirecting = new Promise<void>((resolve) => {
    const stop = flow.subscribe((s) => s.status === "redirecting" && (stop(), resolve()));
  });
  const promise = flow.popup(options);
  // Keeps an early rejection from being reported as unhandled before the test awaits it.
  promise.catch(() => {});
  await Promise.race([redirecting, promise]);
  return { promise, auth: new URL(popupWindow.location) };
}

/** The message the popup relays for `href`. */
const relayOf = (href: string) => ({ [CHANNEL]: href });

/** Posts `data` as the popup's callback page would on the channel. */
function postOnChannel(data: unknown): void {
  const sender = new FakeChannel(CHANNEL);
  sender.postMessage(data);
  sender.close();
}

/** A `message` event on this window, as `opener.postMessage` would deliver it. */
function postToWindow(data: unknown, init: MessageEventInit = {}): void {
  globalThis.dispatchEvent(new MessageEvent("message", { data, origin: location.origin, ...init }));
}

/** Lets the fake window close and the poll see it, with the fake clock. */
async function closeWindowAndWait(ms = 1000): Promise<void> {
  popupWindow.closed = true;
  await vi.advanceTimersByTimeAsync(ms);
}

/** Whether `promise` has settled, after the pending microtasks and timers due now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

function transactions(storage = sessionStorage): Transaction[] {
  return keysWithPrefix(storage, PREFIX).map((key) => JSON.parse(storage.getItem(key)!) as Transaction);
}

/** Asserts that every channel, window listener and timer the popup used is gone. */
function expectCleanedUp(): void {
  expect(FakeChannel.open.size).toBe(0);
  expect(messageListeners.removed).toHaveLength(messageListeners.added.length);
  expect(new Set(messageListeners.removed)).toEqual(new Set(messageListeners.added));
  expect(vi.getTimerCount()).toBe(0);
}

describe("popup(): opening the window", () => {
  it("calls window.open synchronously, before the first await, with a centred 500 x 700 popup", async () => {
    const { flow } = setup(CASES[0]!);
    const controller = new AbortController();
    for (const [name, value] of Object.entries({ screenX: 100, screenY: 50, outerWidth: 1300, outerHeight: 900 })) vi.stubGlobal(name, value);
    const promise = flow.popup({ signal: controller.signal });
    // Checked before anything is awaited: an open after an await would be blocked by the browser.
    expect(openSpy).toHaveBeenCalledTimes(1);
    expect(openSpy).toHaveBeenCalledWith("", "_blank", "width=500,height=700,left=500,top=150");
    controller.abort();
    expect((await rejection(promise)).code).toBe("aborted");
  });

  it("refuses a signal that is no AbortSignal with invalid_argument, opening no window and storing nothing", async () => {
    const { flow, recorder } = setup(CASES[0]!);
    expect((await rejection(flow.popup({ signal: {} as AbortSignal }))).code).toBe("invalid_argument");
    expect(openSpy).not.toHaveBeenCalled();
    expect(transactions()).toEqual([]);
    expect(recorder.calls).toHaveLength(0);
  });

  it("takes null options as none", async () => {
    vi.useFakeTimers();
    const { flow } = setup(CASES[0]!);
    const { promise } = await openAtServer(flow, null as never);
    expect(openSpy).toHaveBeenCalledTimes(1);
    expect(transactions()).toHaveLength(1);
    await closeWindowAndWait();
    expect((await rejection(promise)).code).toBe("popup_closed");
  });

  it("passes the features string it is given", async () => {
    vi.useFakeTimers();
    const { flow } = setup(CASES[0]!);
    const controller = new AbortController();
    const { promise } = await openAtServer(flow, { features: "width=320,height=480", signal: controller.signal });
    expect(openSpy).toHaveBeenCalledWith("", "_blank", "width=320,height=480");
    controller.abort();
    expect((await rejection(promise)).code).toBe("aborted");
  });

  it("rejects popup_blocked, never throws, stores nothing and fails the status when window.open returns null", async () => {
    vi.useFakeTimers();
    openSpy.mockReturnValue(null);
    const { flow, recorder, statuses } = setup(CASES[0]!);
    let promise!: Promise<unknown>;
    expect(() => (promise = flow.popup())).not.toThrow();
    const error = await rejection(promise);
    expect(error.code).toBe("popup_blocked");
    expect(error.message).toContain("click");
    expect(transactions()).toEqual([]);
    expect(statuses).toEqual(["idle", "failed"]);
    expect(flow.snapshot().error).toBe(error);
    expect(recorder.calls).toHaveLength(0);
    expectCleanedUp();
  });

  it("rejects popup_blocked where the page has no window.open at all", async () => {
    vi.stubGlobal("open", undefined);
    const { flow } = setup(CASES[1]!);
    expect((await rejection(flow.popup())).code).toBe("popup_blocked");
    expect(transactions()).toEqual([]);
  });

  it("rejects invalid_config for a headless provider without opening anything", async () => {
    const recorder = fetchRecorder();
    const flow = createFlow({ ...openRouterProvider(), headless: true }, { fetch: recorder.fetch });
    const error = await rejection(flow.popup());
    expect(error.code).toBe("invalid_config");
    expect(openSpy).not.toHaveBeenCalled();
    expect(flow.status).toBe("failed");
  });

  it("rejects aborted without opening anything when the signal has already aborted", async () => {
    const { flow } = setup(CASES[0]!);
    expect((await rejection(flow.popup({ signal: AbortSignal.abort() }))).code).toBe("aborted");
    expect(openSpy).not.toHaveBeenCalled();
    expect(transactions()).toEqual([]);
  });

  it("closes the window and stores nothing when the transaction cannot be made (returnTo elsewhere)", async () => {
    const { flow } = setup(CASES[0]!);
    const error = await rejection(flow.popup({ returnTo: "https://elsewhere.example/" }));
    expect(error.code).toBe("invalid_argument");
    expect(openSpy).toHaveBeenCalledTimes(1);
    expect(popupWindow.closeCalls).toBe(1);
    expect(transactions()).toEqual([]);
    expect(flow.status).toBe("failed");
  });

  it("stores one transaction with a popup state, sends the window to the server and is redirecting", async () => {
    vi.useFakeTimers();
    const provider = oauth2Provider();
    const authorizationUrl = vi.spyOn(provider, "authorizationUrl");
    const flow = createFlow(provider, { fetch: fetchRecorder().fetch });
    const { promise, auth } = await openAtServer(flow, { returnTo: "/after?x=1", params: { login_hint: "ada" } });
    const [tx] = transactions();
    expect(transactions()).toHaveLength(1);
    expect(tx!.state).toMatch(/^pkce-popup\.[A-Za-z0-9_-]{43}$/);
    expect(auth.origin + auth.pathname).toBe(`${AS}/authorize`);
    expect(auth.searchParams.get("state")).toBe(tx!.state);
    expect(authorizationUrl).toHaveBeenCalledWith(expect.objectContaining({ state: tx!.state, params: { login_hint: "ada" } }));
    expect(flow.snapshot()).toEqual({ status: "redirecting", returnTo: "/after?x=1" });
    flow.reset();
    await closeWindowAndWait();
    expect((await rejection(promise)).code).toBe("popup_closed");
  });
});

describe("popup(): the relayed callback", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  it.each(CASES)("$name: exchanges a callback relayed on the channel with one request, after forgetting the transaction", async (c) => {
    const keysAtRequest: string[][] = [];
    const { flow, recorder, statuses } = setup(c, {}, () => {
      keysAtRequest.push(keysWithPrefix(sessionStorage, PREFIX));
      return c.success();
    });
    const { promise, auth } = await openAtServer(flow, { returnTo: "/done" });
    const [tx] = transactions();
    postOnChannel(relayOf(c.callback(auth)));
    expect(await promise).toEqual(c.result);
    expect(recorder.calls).toHaveLength(1);
    const body = await recorder.calls[0]!.body;
    const sent = c.name === "OpenRouter" ? JSON.parse(body) : Object.fromEntries(new URLSearchParams(body));
    expect(sent).toMatchObject({ code: CODE, code_verifier: tx!.codeVerifier });
    expect(keysAtRequest).toEqual([[]]);
    expect(statuses).toEqual(["idle", "redirecting", "exchanging", "authorized"]);
    expect(flow.snapshot()).toEqual({ status: "authorized", returnTo: "/done" });
    expect(transactions()).toEqual([]);
    expectCleanedUp();
  });

  it.each(CASES)("$name: takes the relay from opener.postMessage of this origin, and sends one request when both relays arrive", async (c) => {
    const { flow, recorder } = setup(c);
    const { promise, auth } = await openAtServer(flow);
    const message = relayOf(c.callback(auth));
    postToWindow(message);
    postOnChannel(message);
    expect(await promise).toEqual(c.result);
    await vi.advanceTimersByTimeAsync(1000);
    expect(recorder.calls).toHaveLength(1);
    expectCleanedUp();
  });

  it("ignores forged window messages: another origin, another window, a state it does not hold, malformed payloads", async () => {
    const { flow, recorder, statuses } = setup(CASES[1]!);
    const { promise, auth } = await openAtServer(flow);
    const real = CASES[1]!.callback(auth);
    const otherState = new URL(real);
    otherState.searchParams.set("state", "pkce-popup.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    postToWindow(relayOf(real), { origin: "https://evil.example" });
    postToWindow(relayOf(real), { origin: `${location.origin}.evil.example` });
    // A message whose source is a window other than the popup.
    postToWindow(relayOf(real), { source: window });
    postToWindow(relayOf(otherState.href));
    postOnChannel(relayOf(otherState.href));
    for (const data of [null, "text", 42, [real], { [CHANNEL]: 42 }, { [CHANNEL]: "not a url" }, { other: real }, { [CHANNEL]: { href: real } }]) {
      postToWindow(data);
      postOnChannel(data);
    }
    expect(await settled(promise)).toBe(false);
    expect(recorder.calls).toHaveLength(0);
    expect(transactions()).toHaveLength(1);
    expect(statuses).toEqual(["idle", "redirecting"]);
    // The listeners are still there: the real relay is taken.
    postToWindow(relayOf(real));
    expect(await promise).toEqual(CASES[1]!.result);
    expect(recorder.calls).toHaveLength(1);
    expectCleanedUp();
  });

  it("leaves a second popup of the same page alone: each takes only the relay for its own state", async () => {
    const first = setup(CASES[0]!);
    const a = await openAtServer(first.flow);
    const windowA = popupWindow;
    popupWindow = new FakePopup();
    openSpy.mockImplementation(() => popupWindow);
    const second = setup(CASES[0]!);
    const b = await openAtServer(second.flow);
    expect(b.auth.href).not.toBe(a.auth.href);
    postOnChannel(relayOf(CASES[0]!.callback(b.auth)));
    expect(await b.promise).toEqual(CASES[0]!.result);
    expect(await settled(a.promise)).toBe(false);
    expect(first.recorder.calls).toHaveLength(0);
    expect(second.recorder.calls).toHaveLength(1);
    expect(transactions()).toHaveLength(1);
    postOnChannel(relayOf(CASES[0]!.callback(a.auth)));
    expect(await a.promise).toEqual(CASES[0]!.result);
    expect(first.recorder.calls).toHaveLength(1);
    expect(windowA.closeCalls).toBe(0);
    expectCleanedUp();
  });

  it.each(CASES)("$name: error= in the relayed callback is an AuthorizationError, with no request", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    const { promise, auth } = await openAtServer(flow);
    postOnChannel(relayOf(c.callback(auth, "error=access_denied&error_description=No%20thanks")));
    const error = await rejection(promise);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "authorization_error", error: "access_denied", errorDescription: "No thanks" });
    expect(recorder.calls).toHaveLength(0);
    expect(statuses).toEqual(["idle", "redirecting", "failed"]);
    expect(flow.snapshot().error).toBe(error);
    expect(transactions()).toEqual([]);
    expectCleanedUp();
  });

  it("checks iss against the issuer: issuer_mismatch, no request", async () => {
    const { flow, recorder } = setup(CASES[1]!);
    const { promise, auth } = await openAtServer(flow);
    const callback = new URL(CASES[1]!.callback(auth));
    callback.searchParams.set("iss", "https://mix-up.example");
    postOnChannel(relayOf(callback.href));
    const error = await rejection(promise);
    expect(error.code).toBe("issuer_mismatch");
    expect(error.message).toContain("https://mix-up.example");
    expect(recorder.calls).toHaveLength(0);
    expect(transactions()).toEqual([]);
  });

  it("refuses a relayed callback that carries the state twice: invalid_callback, no request", async () => {
    const { flow, recorder } = setup(CASES[0]!);
    const { promise, auth } = await openAtServer(flow);
    postOnChannel(relayOf(CASES[0]!.callback(auth, `code=${CODE}&state=other`)));
    expect((await rejection(promise)).code).toBe("invalid_callback");
    expect(recorder.calls).toHaveLength(0);
    expect(transactions()).toEqual([]);
  });

  it.each(CASES)("$name: refuses a relayed callback that came back to another redirect URI (mix-up): invalid_callback naming both pages, no request, transaction gone", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    const { promise, auth } = await openAtServer(flow);
    const [tx] = transactions();
    // The server sent the popup on to another server, which answered on its own redirect URI; that
    // page's handleCallback relayed the callback as any popup callback.
    const elsewhere = new URL(c.callback(auth));
    elsewhere.pathname = "/other-server-callback";
    postOnChannel(relayOf(elsewhere.href));
    const error = await rejection(promise);
    expect(error.code).toBe("invalid_callback");
    expect(error.message).toContain(`${location.origin}/other-server-callback`);
    expect(error.message).toContain(pageUrl());
    expect(leaked([...errorSurfaces(error), JSON.stringify(flow.snapshot())], { code: CODE, verifier: tx!.codeVerifier, state: tx!.state })).toEqual([]);
    expect(recorder.calls).toHaveLength(0);
    expect(transactions()).toEqual([]);
    expect(statuses).toEqual(["idle", "redirecting", "failed"]);
    expect(flow.snapshot().error).toBe(error);
    expectCleanedUp();
  });

  it("gives the token endpoint's refusal as handleCallback does, without secrets", async () => {
    const { flow, recorder } = setup(CASES[1]!, {}, () => json(400, { error: "invalid_grant", error_description: `bad ${CODE}` }));
    const { promise, auth } = await openAtServer(flow);
    const [tx] = transactions();
    postOnChannel(relayOf(CASES[1]!.callback(auth)));
    const error = await rejection(promise);
    expect(error).toMatchObject({ code: "token_error", status: 400, error: "invalid_grant" });
    expect(recorder.calls).toHaveLength(1);
    expect(leaked([...errorSurfaces(error), JSON.stringify(flow.snapshot())], { code: CODE, verifier: tx!.codeVerifier, state: tx!.state })).toEqual([]);
  });
});

describe("popup(): the window closes, time runs out, the caller aborts", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  it.each(CASES)("$name: rejects popup_closed within a second of the user closing the window, and forgets the transaction", async (c) => {
    const { flow, recorder, statuses } = setup(c);
    const { promise } = await openAtServer(flow);
    const [tx] = transactions();
    popupWindow.closed = true;
    await vi.advanceTimersByTimeAsync(250);
    // A grace after the first sight of the closed window: a relay still on its way wins it.
    expect(await settled(promise)).toBe(false);
    await vi.advanceTimersByTimeAsync(750);
    const error = await rejection(promise);
    expect(error.code).toBe("popup_closed");
    expect(statuses).toEqual(["idle", "redirecting", "failed"]);
    expect(flow.snapshot().error).toBe(error);
    expect(transactions()).toEqual([]);
    expect(recorder.calls).toHaveLength(0);
    expect(leaked(errorSurfaces(error), { verifier: tx!.codeVerifier, state: tx!.state })).toEqual([]);
    expectCleanedUp();
  });

  it("takes a relay that arrives just after the popup closed itself", async () => {
    const { flow } = setup(CASES[0]!);
    const { promise, auth } = await openAtServer(flow);
    popupWindow.closed = true;
    await vi.advanceTimersByTimeAsync(300);
    postOnChannel(relayOf(CASES[0]!.callback(auth)));
    expect(await promise).toEqual(CASES[0]!.result);
    expectCleanedUp();
  });

  it("with detectClose: false, waits past a window that looks closed, for the relay", async () => {
    const { flow } = setup(CASES[1]!);
    const { promise, auth } = await openAtServer(flow, { detectClose: false });
    await closeWindowAndWait(60_000);
    expect(await settled(promise)).toBe(false);
    expect(transactions()).toHaveLength(1);
    postOnChannel(relayOf(CASES[1]!.callback(auth)));
    expect(await promise).toEqual(CASES[1]!.result);
    expectCleanedUp();
  });

  it("with detectClose: false, rejects expired at the transaction's TTL, forgets it and closes the window", async () => {
    const { flow, statuses } = setup(CASES[0]!, { ttlMs: 120_000 });
    const { promise } = await openAtServer(flow, { detectClose: false });
    await vi.advanceTimersByTimeAsync(119_000);
    expect(await settled(promise)).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await rejection(promise)).code).toBe("expired");
    expect(transactions()).toEqual([]);
    expect(popupWindow.closeCalls).toBe(1);
    expect(statuses).toEqual(["idle", "redirecting", "failed"]);
    expectCleanedUp();
  });

  it("rejects aborted when the signal aborts while the user is at the server: forgets the transaction, closes the window", async () => {
    const controller = new AbortController();
    const { flow, recorder, statuses } = setup(CASES[1]!);
    const { promise, auth } = await openAtServer(flow, { signal: controller.signal });
    controller.abort();
    expect((await rejection(promise)).code).toBe("aborted");
    expect(popupWindow.closeCalls).toBe(1);
    expect(transactions()).toEqual([]);
    expect(statuses).toEqual(["idle", "redirecting", "failed"]);
    expectCleanedUp();
    // A relay after the abort finds nobody listening.
    postOnChannel(relayOf(CASES[1]!.callback(auth)));
    await vi.advanceTimersByTimeAsync(0);
    expect(recorder.calls).toHaveLength(0);
  });
});

describe("handleCallback() on the popup's callback page (rule 0)", () => {
  let opener: { postMessage: ReturnType<typeof vi.fn> };
  let closeSpy: ReturnType<typeof vi.fn>;

  beforeEach(() => {
    opener = { postMessage: vi.fn() };
    vi.stubGlobal("opener", opener);
    closeSpy = vi.fn();
    vi.stubGlobal("close", closeSpy);
  });

  /** A callback URL of a popup transaction, on this page. */
  const popupCallback = (params: string) => `${pageUrl()}?keep=1&${params}&state=pkce-popup.${"B".repeat(43)}#section`;

  it.each([
    ["a code", `code=${CODE}`],
    ["an error", "error=access_denied"],
  ])("relays %s to the opening tab, cleans the address bar, closes the window and resolves null", async (_, params) => {
    const recorder = fetchRecorder();
    const flow = createFlow(openRouterProvider(), { fetch: recorder.fetch });
    const href = popupCallback(params);
    showInAddressBar(href);
    expect(flow.isCallback()).toBe(true);
    expect(await flow.handleCallback()).toBeNull();
    expect(FakeChannel.posted).toEqual([{ name: CHANNEL, data: { [CHANNEL]: href } }]);
    expect(opener.postMessage).toHaveBeenCalledTimes(1);
    expect(opener.postMessage).toHaveBeenCalledWith({ [CHANNEL]: href }, location.origin);
    expect(closeSpy).toHaveBeenCalledTimes(1);
    expect(location.href).toBe(`${pageUrl()}?keep=1#section`);
    expect(FakeChannel.open.size).toBe(0);
    expect(recorder.calls).toHaveLength(0);
    expect(flow.status).toBe("idle");
  });

  it("relays before any storage lookup, even when this storage holds the transaction (localStorage shared with the opener)", async () => {
    const storage = new MemoryStorage();
    const opening = createFlow(oauth2Provider(), { storage, fetch: fetchRecorder().fetch });
    const { auth } = await openAtServer(opening);
    const recorder = fetchRecorder();
    const page = createFlow(oauth2Provider(), { storage, fetch: recorder.fetch });
    const callback = CASES[1]!.callback(auth);
    expect(await page.handleCallback(callback)).toBeNull();
    expect(recorder.calls).toHaveLength(0);
    expect(keysWithPrefix(storage, PREFIX)).toHaveLength(1);
    expect(FakeChannel.posted.map((p) => p.data)).toEqual([{ [CHANNEL]: callback }]);
    opening.reset();
  });

  it("works without an opener (cut by Cross-Origin-Opener-Policy): the channel alone", async () => {
    vi.stubGlobal("opener", null);
    const flow = createFlow(openRouterProvider(), { fetch: fetchRecorder().fetch });
    const href = popupCallback(`code=${CODE}`);
    expect(await flow.handleCallback(href)).toBeNull();
    expect(FakeChannel.posted).toHaveLength(1);
    expect(closeSpy).toHaveBeenCalledTimes(1);
  });

  it("keeps the address bar as it is with cleanUrl: false", async () => {
    const flow = createFlow(openRouterProvider(), { fetch: fetchRecorder().fetch, cleanUrl: false });
    const href = popupCallback(`code=${CODE}`);
    showInAddressBar(href);
    expect(await flow.handleCallback()).toBeNull();
    expect(location.href).toBe(href);
    expect(FakeChannel.posted).toHaveLength(1);
  });

  it("relays on the channel of its own key prefix", async () => {
    const flow = createFlow(openRouterProvider(), { keyPrefix: "app:", fetch: fetchRecorder().fetch });
    expect(await flow.handleCallback(popupCallback(`code=${CODE}`))).toBeNull();
    expect(FakeChannel.posted.map((p) => p.name)).toEqual(["app:popup"]);
  });

  it("is no popup callback without a popup state, or without code and error", async () => {
    const flow = createFlow(openRouterProvider(), { fetch: fetchRecorder().fetch });
    expect(await flow.handleCallback(`${pageUrl()}?keep=1&state=pkce-popup.${"B".repeat(43)}`)).toBeNull();
    await rejection(flow.handleCallback(`${pageUrl()}?keep=1&code=${CODE}&state=${"B".repeat(43)}`));
    expect(FakeChannel.posted).toEqual([]);
    expect(closeSpy).not.toHaveBeenCalled();
  });
});

describe("without BroadcastChannel (Safari before 15.4)", () => {
  it("hands the callback over by opener.postMessage alone", async () => {
    vi.useFakeTimers();
    vi.stubGlobal("BroadcastChannel", undefined);
    const { flow, recorder } = setup(CASES[0]!);
    const { promise, auth } = await openAtServer(flow);
    const opener = { postMessage: vi.fn() };
    vi.stubGlobal("opener", opener);
    vi.stubGlobal("close", vi.fn());
    const popupPage = createFlow(openRouterProvider(), { storage: new MemoryStorage(), fetch: fetchRecorder().fetch });
    const href = CASES[0]!.callback(auth);
    expect(await popupPage.handleCallback(href)).toBeNull();
    expect(opener.postMessage).toHaveBeenCalledWith(relayOf(href), location.origin);
    postToWindow(opener.postMessage.mock.calls[0]![0]);
    expect(await promise).toEqual(CASES[0]!.result);
    expect(recorder.calls).toHaveLength(1);
    expectCleanedUp();
  });
});

describe("the whole handover on the platform's own BroadcastChannel", () => {
  it.each(CASES)("$name: the popup page's handleCallback reaches the opening flow", async (c) => {
    vi.unstubAllGlobals();
    vi.stubGlobal("open", () => popupWindow);
    vi.stubGlobal("close", vi.fn());
    const { flow, recorder } = setup(c);
    const { promise, auth } = await openAtServer(flow);
    // The popup page: its own flow over its own (copied, so empty) storage.
    const popupPage = createFlow(c.provider(), { storage: new MemoryStorage(), fetch: fetchRecorder().fetch });
    expect(await popupPage.handleCallback(c.callback(auth))).toBeNull();
    expect(await promise).toEqual(c.result);
    expect(recorder.calls).toHaveLength(1);
    expect(transactions()).toEqual([]);
  });
});
