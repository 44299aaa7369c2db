import { PkceError } from "../../../src/index.ts";

/** The error `promise` rejects with; fails the test when it resolves or rejects with a non-PkceError. */
export async function rejection(promise: Promise<unknown>): Promise<PkceError> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    if (error instanceof PkceError) return error;
    throw new Error(`expected a PkceError, got ${String(error)}`);
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(result)}`);
}

/** The error `fn` throws; fails the test when it returns or throws a non-PkceError. */
export function thrown(fn: () => unknown): PkceError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PkceError) return error;
    throw new Error(`expected a PkceError, got ${String(error)}`);
  }
  throw new Error("expected a throw");
}
