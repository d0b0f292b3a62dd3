/**
 * The worker of `decode_pool.ts`: reads and decodes image files to model inputs
 * (`decodeForModel`) on its own thread, one request at a time, and posts each back with its
 * pixels transferred (no copy), or the failure's message.
 *
 * @module
 */

import { decodeForModel } from "./decode.ts";
import type { DecodeReply, DecodeRequest } from "./decode_pool.ts";

const scope = self as unknown as Worker;

scope.onmessage = async ({ data }: MessageEvent<DecodeRequest>) => {
  let reply: DecodeReply;
  try {
    const image = await decodeForModel(await Deno.readFile(data.path), data.path, data.spec);
    reply = { id: data.id, image };
    scope.postMessage(reply, [image.data.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    reply = { id: data.id, error: error instanceof Error ? error.message : String(error) };
  }
  scope.postMessage(reply);
};
