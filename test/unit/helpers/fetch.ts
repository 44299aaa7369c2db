/** One call seen by a {@link fetchRecorder}. */
export interface RecordedCall {
  /** The Request as given to fetch (the first argument, made a Request if it was not one). */
  request: Request;
  /** The second argument to fetch, if any. */
  init: RequestInit | undefined;
  /** The signal fetch must honour: the init's, else the request's. */
  signal: AbortSignal;
  /** The request body as text (read from a clone, so the original stays unread). */
  body: Promise<string>;
}

/** Answers one recorded call. */
export type Responder = (call: RecordedCall, index: number) => Response | Promise<Response>;

/**
 * A fetch stand-in that records every call synchronously (so `calls.length` is exact even while a
 * request hangs) and answers with `respond`. It never touches the network.
 */
export function fetchRecorder(respond: Responder = () => json(200, {})) {
  const calls: RecordedCall[] = [];
  let notify: (() => void) | undefined;
  let called = new Promise<void>((resolve) => (notify = resolve));
  const fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const call: RecordedCall = {
      request,
      init,
      signal: init?.signal ?? request.signal,
      body: request.clone().text(),
    };
    calls.push(call);
    notify?.();
    try {
      return Promise.resolve(respond(call, calls.length - 1));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    fetch: fetch as typeof globalThis.fetch,
    calls,
    /** Resolves once fetch has been called at least once (from now on, if it was called before). */
    nextCall(): Promise<void> {
      if (calls.length) return Promise.resolve();
      return called;
    },
    reset() {
      calls.length = 0;
      called = new Promise<void>((resolve) => (notify = resolve));
    },
  };
}

/** A JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** A text response of the given content type. */
export function text(status: number, body: string, contentType = "text/plain"): Response {
  return new Response(body, { status, headers: { "Content-Type": contentType } });
}

/** A response that never comes, but fails as a real fetch does once `signal` aborts. */
export function hang(signal: AbortSignal): Promise<Response> {
  return new Promise<Response>((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new DOMException("The operation was aborted.", "AbortError"));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/** A response that never comes and ignores every signal (a careless fetch wrapper). */
export function never(): Promise<Response> {
  return new Promise<Response>(() => {});
}
