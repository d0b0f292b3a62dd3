/**
 * The worker behind `hashInWorker`: hashes the pieces its caller copies into a shared ring,
 * in order, and posts `{ hex }` once the caller says it is done, or `{ error }`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { HASH_CONTROL, HASH_PIECE_BYTES, type HashAlgorithm } from "./hash.ts";

interface Ring {
  algorithm: HashAlgorithm;
  ring: Uint8Array;
  lengths: Int32Array;
  control: Int32Array;
}

const scope = self as unknown as {
  onmessage: (event: MessageEvent<Ring>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = ({ data: { algorithm, ring, lengths, control } }) => {
  try {
    const hash = createHash(algorithm);
    const slots = lengths.length;
    for (let piece = 0;; piece++) {
      // Wait for piece number `piece`; the caller sets `done` only after its last piece.
      while (Atomics.load(control, HASH_CONTROL.handed) <= piece) {
        if (
          Atomics.load(control, HASH_CONTROL.done) === 1 &&
          Atomics.load(control, HASH_CONTROL.handed) <= piece
        ) {
          scope.postMessage({ hex: hash.digest("hex") });
          return;
        }
        Atomics.wait(control, HASH_CONTROL.handed, piece, 50);
      }
      const slot = piece % slots;
      hash.update(ring.subarray(slot * HASH_PIECE_BYTES, slot * HASH_PIECE_BYTES + lengths[slot]));
      Atomics.store(control, HASH_CONTROL.hashed, piece + 1);
      Atomics.notify(control, HASH_CONTROL.hashed);
    }
  } catch (error) {
    scope.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
