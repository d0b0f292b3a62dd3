/**
 * Whole files in and out: reading a weights file into one buffer, and the one atomic writer
 * (a temporary sibling, then a rename) that every file the project writes goes through.
 *
 * `Deno.readFile` reads into its own buffer and then copies it into a JavaScript one; reading
 * straight into one buffer of the file's size takes half the time for a 100 MB model (70–100 ms
 * against 150–160 ms in a fresh process here).
 *
 * @example
 * ```ts
 * import { readWholeFile } from "./files.ts";
 * const bytes = await readWholeFile("models/cifar_resnet20.safetensors");
 * console.log(bytes.length);
 * ```
 *
 * @module
 */

/**
 * Makes an operating-system error name the path it concerns: Deno's messages name the path when
 * opening fails (`No such file or directory (os error 2): open 'x'`) but not when a later call
 * fails (`Is a directory (os error 21)`), and a user cannot act on that. The error keeps its
 * class, so `instanceof Deno.errors.NotFound` still holds.
 *
 * @returns The same error, its message ending in the path when it did not name it.
 *
 * @example
 * ```ts
 * import { withPath } from "./files.ts";
 * const error = withPath(new Deno.errors.IsADirectory("Is a directory (os error 21)"), "models");
 * console.log((error as Error).message); // Is a directory (os error 21): 'models'
 * ```
 */
export function withPath(error: unknown, path: string | URL): unknown {
  const name = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  if (error instanceof Error && !error.message.includes(`'${name}'`)) {
    error.message = `${error.message}: '${name}'`;
  }
  return error;
}

/** Options of {@link readWholeFile}. */
export interface ReadWholeFileOptions {
  /**
   * Called with each piece of the file as it is read, in order, before the next read starts:
   * how `readSource` hashes a file while reading it.
   */
  onPiece?: (piece: Uint8Array) => void;
  /** The most bytes one read takes (default: all that remain). */
  pieceBytes?: number;
  /** Allocates the buffer read into (default: a `Uint8Array`), e.g. on a `SharedArrayBuffer`. */
  allocate?: (size: number) => Uint8Array;
}

/**
 * The bytes of a file, read into one buffer sized from `stat`. A file that grows while it is
 * read is read to its end all the same.
 *
 * @example
 * ```ts
 * const bytes = await readWholeFile("testdata/fixtures/nets/tv_basic.onnx");
 * console.log(bytes.length); // 140977
 * ```
 */
export async function readWholeFile(
  path: string | URL,
  options: ReadWholeFileOptions = {},
): Promise<Uint8Array> {
  try {
    return await readInto(path, options);
  } catch (error) {
    throw withPath(error, path);
  }
}

async function readInto(path: string | URL, options: ReadWholeFileOptions): Promise<Uint8Array> {
  const { onPiece, pieceBytes = Infinity, allocate = (size) => new Uint8Array(size) } = options;
  using file = await Deno.open(path);
  let buffer = allocate((await file.stat()).size);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      // Full: either the end, or the file grew since stat.
      const probe = new Uint8Array(64 * 1024);
      const read = await file.read(probe);
      if (read === null) return buffer;
      onPiece?.(probe.subarray(0, read));
      const grown = allocate(Math.max(buffer.length * 2, length + read));
      grown.set(buffer);
      grown.set(probe.subarray(0, read), length);
      buffer = grown;
      length += read;
      continue;
    }
    const piece = buffer.subarray(length, Math.min(length + pieceBytes, buffer.length));
    const read = await file.read(piece);
    if (read === null) return buffer.subarray(0, length);
    onPiece?.(buffer.subarray(length, length + read));
    length += read;
  }
}

/**
 * Bytes of a file that are computed only when a writer reaches them, into a buffer the writer
 * provides: how a kernel whose layout change is deferred reaches the disk without ever being
 * kept in memory whole (see `safetensorsChunks`).
 */
export interface DeferredChunk {
  /** How many bytes it produces. */
  readonly length: number;
  /** Writes them into the start of `target`, which is 4-aligned and at least `length` long. */
  writeInto(target: Uint8Array): void;
}

/** A piece of a file to write, in order: bytes, or bytes to produce on the way. */
export type FileChunk = Uint8Array | DeferredChunk;

/**
 * Joins file chunks into one array, producing the deferred ones.
 *
 * @example
 * ```ts
 * const deferred = { length: 2, writeInto: (target: Uint8Array) => target.set([2, 3]) };
 * joinChunks([new Uint8Array([1]), deferred]); // Uint8Array [1, 2, 3]
 * ```
 */
export function joinChunks(chunks: FileChunk[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    if (chunk instanceof Uint8Array) {
      out.set(chunk, offset);
    } else {
      // Through an aligned buffer of its own: `offset` need not be a multiple of 4.
      const produced = new Uint8Array(chunk.length);
      chunk.writeInto(produced);
      out.set(produced, offset);
    }
    offset += chunk.length;
  }
  return out;
}

/** The most `writeAtomically` hands to one write call. */
const WRITE_SLICE_BYTES = 1 << 20;

/**
 * Writes chunks to an open file in order. Writes are queued, not awaited one by one, so a
 * deferred chunk (a kernel to transpose) is produced while the one before is on its way to the
 * disk. Chunks are written from two pairs of buffers that take turns, each reused only once its
 * last write is done: one pair for deferred chunks, one gathering small chunks (a BatchNorm's
 * 1 KB vectors, hundreds of them: every write call is a round trip to an I/O thread). Large
 * chunks go out in slices of at most 1 MiB: one 100 MB write call took 31–286 ms here, 1 MiB
 * slices a steady 31–39 ms, and `convert` ran slower with 16 MiB slices (median 360 ms against
 * 289 ms).
 */
async function writeChunks(file: Deno.FsFile, chunks: FileChunk[]): Promise<number> {
  let tail = Promise.resolve();
  const enqueue = (data: Uint8Array): Promise<void> =>
    tail = tail.then(async () => {
      for (let done = 0; done < data.length;) {
        done += await file.write(data.subarray(done, done + WRITE_SLICE_BYTES));
      }
    });
  const turns = (size: number) => [0, 1].map(() => ({ bytes: new Uint8Array(size), free: tail }));
  const deferredSize = Math.max(0, ...chunks.map((c) => c instanceof Uint8Array ? 0 : c.length));
  const produced = turns(deferredSize);
  const gathering = turns(WRITE_SLICE_BYTES);
  let turn = 0;
  let gather = gathering[0];
  let pending = 0;
  const flush = () => {
    if (pending === 0) return;
    gather.free = enqueue(gather.bytes.subarray(0, pending));
    gather = gathering[gather === gathering[0] ? 1 : 0];
    pending = 0;
  };
  let written = 0;
  try {
    for (const chunk of chunks) {
      written += chunk.length;
      if (!(chunk instanceof Uint8Array)) {
        const target = produced[turn ^= 1];
        await target.free;
        chunk.writeInto(target.bytes);
        flush();
        target.free = enqueue(target.bytes.subarray(0, chunk.length));
      } else if (chunk.length >= WRITE_SLICE_BYTES / 4) {
        flush();
        enqueue(chunk);
      } else {
        if (pending + chunk.length > WRITE_SLICE_BYTES) flush();
        if (pending === 0) await gather.free;
        gather.bytes.set(chunk, pending);
        pending += chunk.length;
      }
    }
    flush();
    await tail;
  } catch (error) {
    // The writes still queued fail with the file: their error is this one.
    tail.catch(() => {});
    throw error;
  }
  return written;
}

/**
 * Writes a file through a temporary sibling and a rename (creating its folder), so that a
 * failure never leaves a partial file under the final name. Chunks are written one after
 * another, never joined in memory; a deferred chunk is produced while the one before it is
 * being written. Chunks may also arrive from an async iterable, each written before the next
 * is asked for: how results computed batch by batch reach the disk without being kept.
 *
 * @returns The number of bytes written.
 *
 * @example
 * ```ts
 * await writeAtomically("out/model.safetensors", new Uint8Array([1, 2, 3])); // 3
 * ```
 */
export async function writeAtomically(
  path: string,
  bytes: Uint8Array | FileChunk[] | AsyncIterable<Uint8Array>,
): Promise<number> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) {
    await Deno.mkdir(path.slice(0, slash), { recursive: true }).catch((error) => {
      throw withPath(error, path.slice(0, slash));
    });
  }
  const temporary = `${path}.${Deno.pid}.tmp`;
  // What the iterable itself throws (a batch that failed to run) is not about this file, so it
  // keeps its message as it is: the path is added to the file's own errors only.
  let sourceError: unknown;
  try {
    let written: number;
    {
      using file = await Deno.open(temporary, { write: true, create: true, truncate: true });
      if (Symbol.asyncIterator in bytes) {
        const source = bytes;
        const marked = (async function* () {
          try {
            yield* source;
          } catch (error) {
            sourceError = error;
            throw error;
          }
        })();
        written = 0;
        for await (const chunk of marked) written += await writeChunks(file, [chunk]);
      } else {
        written = await writeChunks(file, Array.isArray(bytes) ? bytes : [bytes]);
      }
    }
    await Deno.rename(temporary, path);
    return written;
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error === sourceError ? error : withPath(error, path);
  }
}
