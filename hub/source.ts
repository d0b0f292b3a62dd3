/**
 * Reading a weights file to convert: the bytes, and their SHA-256 for the provenance record,
 * computed in a worker while the file is read.
 *
 * @example
 * ```ts
 * import { readSource } from "./source.ts";
 * const { bytes, sha256 } = await readSource("models/cifar_resnet20.safetensors");
 * console.log(bytes.length, (await sha256).length); // 1093744 64
 * ```
 *
 * @module
 */

import { readWholeFile } from "../formats/files.ts";
import { type GrowingHasher, hashInWorker } from "./hash.ts";

/**
 * How much of a file `readSource` reads at once: the worker hashes each piece as it arrives.
 * Larger pieces mean fewer round trips to the I/O thread: `convert` of the 100 MB ResNet-50
 * took a median 280–298 ms with 16 MiB pieces, 302–312 ms with 4 MiB ones.
 */
const HASH_PIECE_BYTES = 16 << 20;

/** A weights file read for conversion, and its SHA-256 for the provenance record. */
export interface SourceFile {
  /** The file's bytes. */
  bytes: Uint8Array;
  /** Hex SHA-256 of those bytes. */
  sha256: Promise<string>;
}

/**
 * Reads a file to convert and hashes it on the way: the file is read into a shared buffer,
 * piece by piece, which a worker hashes as the pieces arrive (see `hashInWorker`). The 100 MB
 * ResNet-50's 75 ms of SHA-256 thus cost this thread nothing, and the file is read once.
 *
 * @example
 * ```ts
 * import { importBytes } from "../convert/import.ts";
 * import { readSource } from "./source.ts";
 *
 * const file = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * const { bytes, sha256 } = await readSource(file);
 * const imported = await importBytes(bytes, file);
 * console.log(imported.spec.name, (await sha256).slice(0, 8)); // cifar_resnet20 12fca82f
 * ```
 */
export async function readSource(path: string): Promise<SourceFile> {
  let first: Uint8Array | undefined;
  let hasher: GrowingHasher | undefined;
  try {
    const bytes = await readWholeFile(path, {
      allocate: (size) => {
        const buffer = new Uint8Array(new SharedArrayBuffer(size));
        // Only the first buffer is hashed as it fills; a file that outgrew it is hashed here.
        if (!first) {
          first = buffer;
          hasher = hashInWorker(buffer, "sha256");
        }
        return buffer;
      },
      onPiece: (piece) => {
        if (piece.buffer === first!.buffer) hasher!.ready(piece.byteOffset + piece.length);
      },
      pieceBytes: HASH_PIECE_BYTES,
    });
    return { bytes, sha256: hasher!.digest(bytes) };
  } catch (error) {
    hasher?.abort();
    throw error;
  }
}
