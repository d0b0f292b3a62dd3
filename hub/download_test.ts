import { assert, assertEquals, assertRejects } from "@std/assert";
import { type DownloadProgress, resumeDownload, sleep, TransferMeter } from "./download.ts";
import { startServer } from "../tests/http_fixture.ts";

const BODY = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 255);

/** Runs `body` with the path of a `.part` file in a fresh temporary folder. */
async function withPart(body: (part: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "denozoo_download_test_" });
  try {
    await body(`${dir}/w.bin.part`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resumeDownload: a missing part is downloaded whole, an existing one continued", async () => {
  const server = startServer({ "/w.bin": { body: BODY } });
  try {
    await withPart(async (part) => {
      const meter = new TransferMeter("w.bin");
      assertEquals(await resumeDownload(`${server.origin}/w.bin`, part, meter), false);
      assertEquals(await Deno.readFile(part), BODY);
      await Deno.truncate(part, 100_000);
      assertEquals(await resumeDownload(`${server.origin}/w.bin`, part, meter), true);
      assertEquals(await Deno.readFile(part), BODY);
      assertEquals(server.requests.map((r) => r.range), [null, "bytes=100000-"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("resumeDownload: a part already whole is kept; one longer than the file restarts", async () => {
  const server = startServer({ "/w.bin": { body: BODY } });
  try {
    await withPart(async (part) => {
      const meter = new TransferMeter("w.bin");
      await Deno.writeFile(part, BODY);
      assertEquals(await resumeDownload(`${server.origin}/w.bin`, part, meter), true);
      assertEquals(await Deno.readFile(part), BODY);
      // 416 with the file's size: nothing more to fetch.
      assertEquals(server.requests.map((r) => r.range), ["bytes=300000-"]);
      await Deno.writeFile(part, new Uint8Array(400_000));
      await resumeDownload(`${server.origin}/w.bin`, part, meter);
      assertEquals(await Deno.readFile(part), BODY);
      assertEquals(server.requests.map((r) => r.range).slice(1), ["bytes=400000-", null]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("resumeDownload: drops are resumed, a 503 retried, a 404 refused naming the URL", async () => {
  const server = startServer({
    "/w.bin": { body: BODY, drops: 2, dropAfter: 70_000, unavailable: 1 },
  });
  try {
    await withPart(async (part) => {
      const meter = new TransferMeter("w.bin");
      await resumeDownload(`${server.origin}/w.bin`, part, meter);
      assertEquals(await Deno.readFile(part), BODY);
      assertEquals(server.requests.map((r) => r.range), [
        null, // 503
        null, // dropped after 70,000 bytes
        "bytes=70000-", // dropped after 70,000 more
        "bytes=140000-",
      ]);
      const error = await assertRejects(
        () => resumeDownload(`${server.origin}/gone.bin`, `${part}2`, meter),
        Error,
      );
      assertEquals(error.message, `HTTP 404 Not Found for ${server.origin}/gone.bin`);
    });
  } finally {
    await server.close();
  }
});

Deno.test("TransferMeter: reports at most every 100 ms and always the last; resumed bytes are not speed", async () => {
  const reports: DownloadProgress[] = [];
  const meter = new TransferMeter("w.bin", (progress) => reports.push(progress));
  meter.update(1_000, 10_000); // the first report; its bytes are the rate's baseline
  meter.update(2_000, 10_000); // within 100 ms of the last: dropped
  await sleep(20);
  meter.update(10_000, 10_000, true);
  assertEquals(reports.map((p) => [p.received, p.total]), [[1_000, 10_000], [10_000, 10_000]]);
  assertEquals([reports[0].rate, reports[0].etaSeconds], [0, undefined]);
  // 9,000 new bytes in at least 20 ms, so under 450,000 bytes per second; nothing left.
  assert(reports[1].rate > 0 && reports[1].rate <= 450_000, `${reports[1].rate}`);
  assertEquals(reports[1].etaSeconds, 0);
});

Deno.test("sleep: an aborted signal rejects at once with its reason", async () => {
  const controller = new AbortController();
  const pending = sleep(10_000, controller.signal);
  controller.abort(new Error("cancelled"));
  await assertRejects(() => pending, Error, "cancelled");
  await assertRejects(() => sleep(10, controller.signal), Error, "cancelled");
});
