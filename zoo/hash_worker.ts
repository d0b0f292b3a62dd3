/**
 * The worker behind `hashFileInWorker`: digests one file and posts `{ hex, bytes }`, or
 * `{ error }` with the message of what went wrong (a missing file, a denied read).
 *
 * @module
 */

import { digestFile, type HashAlgorithm } from "./hash.ts";

const scope = self as unknown as {
  onmessage: (event: MessageEvent<{ path: string; algorithm: HashAlgorithm }>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = async ({ data }) => {
  try {
    scope.postMessage(await digestFile(data.path, data.algorithm));
  } catch (error) {
    scope.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
