/**
 * The worker behind `hashInWorker`: hashes a shared buffer from its start as its caller reports
 * bytes ready, and posts `{ hex }` once the caller says it is done, or `{ error }`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { HASH_CONTROL, type HashAlgorithm } from "./hash.ts";

interface Job {
  algorithm: HashAlgorithm;
  bytes: Uint8Array;
  control: Int32Array;
}

const scope = self as unknown as {
  onmessage: (event: MessageEvent<Job>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = ({ data: { algorithm, bytes, control } }) => {
  try {
    const hash = createHash(algorithm);
    for (let hashed = 0;;) {
      const ready = Atomics.load(control, HASH_CONTROL.ready);
      if (ready > hashed) {
        hash.update(bytes.subarray(hashed, ready));
        hashed = ready;
      } else if (Atomics.load(control, HASH_CONTROL.done) === 1) {
        // `done` is set after the last `ready`: nothing more will come.
        if (Atomics.load(control, HASH_CONTROL.ready) === hashed) {
          scope.postMessage({ hex: hash.digest("hex") });
          return;
        }
      } else {
        Atomics.wait(control, HASH_CONTROL.ready, ready, 50);
      }
    }
  } catch (error) {
    scope.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
