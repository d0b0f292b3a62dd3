/**
 * A local HTTP server for the download tests: serves fixed bytes by path, with Range requests,
 * and misbehaves on request (dropped connections, ignored Ranges, flipped bytes, slow chunks,
 * 503s), recording every request it sees.
 *
 * @module
 */

/** How the fixture server answers one path. */
export interface Route {
  body: Uint8Array;
  /** The next this-many responses close the connection after `dropAfter` body bytes. */
  drops?: number;
  dropAfter?: number;
  /** Answer 200 with the whole file even when a Range is asked. */
  ignoreRange?: boolean;
  /** Flip one byte in the middle of every response. */
  corrupt?: boolean;
  /** Send in 64 KiB chunks with this pause between them. */
  chunkDelayMs?: number;
  /** The next this-many requests get a 503. */
  unavailable?: number;
}

/** One request the fixture server saw. */
export interface SeenRequest {
  path: string;
  range: string | null;
}

/** A running fixture server. */
export interface FixtureServer {
  origin: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on 127.0.0.1 that serves `routes` by path, honouring `Range: bytes=N-`
 * (206, or 416 past the end) unless a route says otherwise; other paths are 404.
 */
export function startServer(routes: Record<string, Route>): FixtureServer {
  const requests: SeenRequest[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    // A dropped response surfaces here; the drop is the point, so stay quiet.
    onError: () => new Response(null, { status: 500 }),
  }, (request) => {
    const path = new URL(request.url).pathname;
    const range = request.headers.get("range");
    requests.push({ path, range });
    const route = routes[path];
    if (!route) return new Response("not found", { status: 404 });
    if (route.unavailable) {
      route.unavailable--;
      return new Response("busy", { status: 503 });
    }
    let data = route.body;
    if (route.corrupt) {
      data = data.slice();
      data[data.length >> 1] ^= 0xff;
    }
    const start = range && !route.ignoreRange ? Number(range.match(/^bytes=(\d+)-$/)?.[1]) : 0;
    if (start >= data.length && start > 0) {
      return new Response(null, {
        status: 416,
        headers: { "content-range": `bytes */${data.length}` },
      });
    }
    const slice = data.subarray(start);
    const dropAt = route.drops ? (route.drops--, route.dropAfter ?? 0) : undefined;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let at = 0; at < slice.length; at += 65536) {
          const end = Math.min(at + 65536, slice.length, dropAt ?? Infinity);
          if (end > at) controller.enqueue(slice.subarray(at, end));
          if (dropAt !== undefined && end >= dropAt) {
            // Give the bytes time to leave, then kill the connection mid-body.
            await new Promise((resolve) => setTimeout(resolve, 20));
            controller.error(new Error("fixture server drops the connection"));
            return;
          }
          if (route.chunkDelayMs) {
            await new Promise((resolve) => setTimeout(resolve, route.chunkDelayMs));
          }
        }
        controller.close();
      },
    });
    const headers: Record<string, string> = { "content-length": String(slice.length) };
    if (start > 0) headers["content-range"] = `bytes ${start}-${data.length - 1}/${data.length}`;
    return new Response(body, { status: start > 0 ? 206 : 200, headers });
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async close() {
      await server.shutdown();
    },
  };
}
