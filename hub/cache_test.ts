import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { createHash } from "node:crypto";
import {
  cacheDir,
  cachedPath,
  fetchWeights,
  mirrorUrl,
  resolveCacheDir,
  verifyCached,
} from "./cache.ts";
import { type DownloadProgress, HostNotFoundError } from "./download.ts";
import { cachedFiles, listCache, removeCached, verifyDownload } from "./cache_files.ts";
import { hashFile } from "./hash.ts";
import { findWeights, type WeightsEntry } from "./registry.ts";
import { type Route, startServer } from "../tests/http_fixture.ts";

const RESNET20 = await Deno.readFile(
  new URL("../testdata/cifar10-resnet/resnet20-12fca82f.th", import.meta.url).pathname,
);
const RESNET20_ENTRY = findWeights("cifar_resnet20.cifar10");
const RESNET20_MIRROR_PATH =
  "/github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet20-12fca82f.th";
/** `md5sum resnet20-12fca82f.th`, computed outside this code. */
const RESNET20_MD5 = "1f38c81cdebd6bcce9b03d082161a36c";

const ENV_KEYS = ["DENOZOO_HOME", "DENOZOO_OFFLINE", "DENOZOO_MIRROR"];

/** Runs `body` with a fresh DENOZOO_HOME and the given variables, restoring the env after. */
async function withCache(
  vars: Record<string, string>,
  body: (home: string) => Promise<void>,
): Promise<void> {
  const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, Deno.env.get(key)]));
  const home = await Deno.makeTempDir({ prefix: "denozoo_cache_test_" });
  try {
    for (const key of ENV_KEYS) Deno.env.delete(key);
    Deno.env.set("DENOZOO_HOME", home);
    for (const [key, value] of Object.entries(vars)) Deno.env.set(key, value);
    await body(home);
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
    await Deno.remove(home, { recursive: true });
  }
}

/** A registry-shaped entry served by the fixture server. */
function syntheticEntry(url: string, bytes: Uint8Array, algorithm: "sha256" | "md5"): WeightsEntry {
  return {
    id: "synthetic.test",
    architecture: "cifar_resnet20",
    urls: [url],
    hash: { algorithm, value: createHash(algorithm).update(bytes).digest("hex") },
    sourceFormat: "pytorch-legacy",
    preprocess: "CIFAR10_TORCH",
    labels: "cifar10",
    license: "BSD-2-Clause",
    metrics: { dataset: "none" },
  };
}

async function listDownloads(home: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(`${home}/downloads`)) names.push(item.name);
  return names.sort();
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

const RESNET20_SHA256 = "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8";

Deno.test("cache dir: DENOZOO_HOME, XDG, macOS and Windows rules", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assertEquals(resolveCacheDir("linux", env({ HOME: "/home/a" })), "/home/a/.cache/denozoo");
  assertEquals(
    resolveCacheDir("linux", env({ HOME: "/home/a", XDG_CACHE_HOME: "/xdg" })),
    "/xdg/denozoo",
  );
  assertEquals(
    resolveCacheDir("linux", env({ HOME: "/home/a", XDG_CACHE_HOME: "rel" })),
    "/home/a/.cache/denozoo",
  );
  assertEquals(
    resolveCacheDir("darwin", env({ HOME: "/Users/a" })),
    "/Users/a/Library/Caches/denozoo",
  );
  assertEquals(
    resolveCacheDir("windows", env({ LOCALAPPDATA: "C:\\Users\\a\\AppData\\Local" })),
    "C:\\Users\\a\\AppData\\Local\\denozoo",
  );
  assertEquals(resolveCacheDir("linux", env({ HOME: "/h", DENOZOO_HOME: "/zoo" })), "/zoo");
  assertMatch(
    assertThrows(() => resolveCacheDir("linux", env({})), Error).message,
    /DENOZOO_HOME/,
  );
});

Deno.test("hashFile: streaming sha256 and md5 match known digests", async () => {
  const path = new URL("../testdata/cifar10-resnet/resnet20-12fca82f.th", import.meta.url).pathname;
  assertEquals(await hashFile(path, "sha256"), RESNET20_SHA256);
  assertEquals(await hashFile(path, "md5"), RESNET20_MD5);
});

Deno.test("mirror: upstream host and path go under the mirror URL", () => {
  assertEquals(
    mirrorUrl(RESNET20_ENTRY.urls[0], "http://127.0.0.1:8000/"),
    `http://127.0.0.1:8000${RESNET20_MIRROR_PATH}`,
  );
  assertEquals(
    mirrorUrl("https://download.pytorch.org/models/resnet18-f37072fd.pth", "https://m.example/zoo"),
    "https://m.example/zoo/download.pytorch.org/models/resnet18-f37072fd.pth",
  );
});

Deno.test("fetchWeights: clean download of the real registry entry through DENOZOO_MIRROR", async () => {
  const server = startServer({ [RESNET20_MIRROR_PATH]: { body: RESNET20 } });
  try {
    await withCache({ DENOZOO_MIRROR: server.origin }, async (home) => {
      assertEquals(cacheDir(), home);
      assertEquals(await verifyCached(RESNET20_ENTRY), "missing");
      const reports: DownloadProgress[] = [];
      const path = await fetchWeights(RESNET20_ENTRY, { onProgress: (p) => reports.push(p) });
      assertEquals(path, `${home}/downloads/resnet20-12fca82f.th`);
      assertEquals(path, cachedPath(RESNET20_ENTRY));
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      assertEquals(server.requests, [{ path: RESNET20_MIRROR_PATH, range: null }]);
      assertEquals(await listDownloads(home), [
        "resnet20-12fca82f.th",
        "resnet20-12fca82f.th.verified",
      ]);
      const last = reports[reports.length - 1];
      assertEquals([last.received, last.total], [RESNET20.length, RESNET20.length]);
      assert(reports.every((p) => p.rate >= 0));
      const sidecar = JSON.parse(await Deno.readTextFile(`${path}.verified`));
      assertEquals([sidecar.size, sidecar.value], [RESNET20.length, "12fca82f"]);
      assertEquals(await verifyCached(RESNET20_ENTRY), "ok");
      // A second fetch reuses the verified file without a request.
      assertEquals(await fetchWeights(RESNET20_ENTRY), path);
      assertEquals(server.requests.length, 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a mid-file drop resumes with a Range request", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20, drops: 1, dropAfter: 400_000 } });
  try {
    await withCache({}, async () => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "md5");
      const path = await fetchWeights(entry);
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      assertEquals(server.requests.length, 2);
      assertEquals(server.requests[0].range, null);
      // Resumed exactly where the first response stopped.
      assertEquals(server.requests[1].range, "bytes=400000-");
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a server that ignores Range restarts the part from byte 0", async () => {
  const route: Route = { body: RESNET20, drops: 1, dropAfter: 300_000, ignoreRange: true };
  const server = startServer({ "/w.bin": route });
  try {
    await withCache({}, async () => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      const path = await fetchWeights(entry);
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      assertEquals(server.requests.map((r) => r.range), [null, "bytes=300000-"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a .part left by an earlier run is resumed", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20 } });
  try {
    await withCache({}, async (home) => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      await Deno.mkdir(`${home}/downloads`);
      await Deno.writeFile(`${home}/downloads/w.bin.part`, RESNET20.subarray(0, 123_456));
      const path = await fetchWeights(entry);
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      assertEquals(server.requests.map((r) => r.range), ["bytes=123456-"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: corrupt bytes fail with expected vs got and leave nothing", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20, corrupt: true } });
  try {
    await withCache({}, async (home) => {
      const url = `${server.origin}/w.bin`;
      const entry = syntheticEntry(url, RESNET20, "sha256");
      const corrupted = RESNET20.slice();
      corrupted[corrupted.length >> 1] ^= 0xff;
      const got = createHash("sha256").update(corrupted).digest("hex");
      const error = await assertRejects(() => fetchWeights(entry), Error);
      assert(error.message.includes(url), error.message);
      assert(error.message.includes(`expected sha256 ${RESNET20_SHA256}`), error.message);
      assert(error.message.includes(`got sha256 ${got}`), error.message);
      assertEquals(await listDownloads(home), []);
      assertEquals(await verifyCached(entry), "missing");
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: the registry's sha256 prefix rejects a corrupt mirror file", async () => {
  const server = startServer({ [RESNET20_MIRROR_PATH]: { body: RESNET20, corrupt: true } });
  try {
    await withCache({ DENOZOO_MIRROR: server.origin }, async (home) => {
      const error = await assertRejects(() => fetchWeights(RESNET20_ENTRY), Error);
      assertMatch(error.message, /expected sha256 starting 12fca82f, got sha256 [0-9a-f]{64}/);
      assertEquals(await listDownloads(home), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a 503 is retried, a 404 fails at once naming the URL", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20, unavailable: 2 } });
  try {
    await withCache({}, async (home) => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      assertEquals(await sha256Of(await fetchWeights(entry)), RESNET20_SHA256);
      assertEquals(server.requests.length, 3);
      const missing = { ...entry, id: "missing.test", urls: [`${server.origin}/gone.bin`] };
      const error = await assertRejects(() => fetchWeights(missing), Error);
      assert(error.message.includes(`HTTP 404 Not Found for ${server.origin}/gone.bin`));
      assertEquals(server.requests.length, 4);
      assertEquals(await listDownloads(home), ["w.bin", "w.bin.verified"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: DENOZOO_OFFLINE never touches the network", async () => {
  const server = startServer({ [RESNET20_MIRROR_PATH]: { body: RESNET20 } });
  try {
    await withCache({ DENOZOO_OFFLINE: "1", DENOZOO_MIRROR: server.origin }, async (home) => {
      const error = await assertRejects(() => fetchWeights(RESNET20_ENTRY), Error);
      assertMatch(error.message, /DENOZOO_OFFLINE/);
      assert(error.message.includes("resnet20-12fca82f.th"), error.message);
      assert(error.message.includes(`${home}/downloads/resnet20-12fca82f.th`), error.message);
      assertEquals(server.requests.length, 0);
      // A file dropped into the cache by hand is verified and used.
      await Deno.mkdir(`${home}/downloads`);
      await Deno.writeFile(`${home}/downloads/resnet20-12fca82f.th`, RESNET20);
      assertEquals(await fetchWeights(RESNET20_ENTRY), `${home}/downloads/resnet20-12fca82f.th`);
      assertEquals(server.requests.length, 0);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: damaged cache entries are re-downloaded", async () => {
  const server = startServer({ [RESNET20_MIRROR_PATH]: { body: RESNET20 } });
  try {
    await withCache({ DENOZOO_MIRROR: server.origin }, async () => {
      const path = await fetchWeights(RESNET20_ENTRY);
      // Truncated: the size check catches it without hashing.
      await Deno.truncate(path, 1000);
      assertEquals(await verifyCached(RESNET20_ENTRY), "corrupt");
      assertEquals(await fetchWeights(RESNET20_ENTRY), path);
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      // Same size, one byte flipped: the new mtime invalidates the memoised hash.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const damaged = RESNET20.slice();
      damaged[5000] ^= 1;
      await Deno.writeFile(path, damaged);
      assertEquals(await verifyCached(RESNET20_ENTRY), "corrupt");
      assertEquals(await fetchWeights(RESNET20_ENTRY), path);
      assertEquals(await sha256Of(path), RESNET20_SHA256);
      assertEquals(server.requests.length, 3);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: two concurrent calls in one process share one download", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20, chunkDelayMs: 10 } });
  try {
    await withCache({}, async (home) => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      const [a, b] = await Promise.all([fetchWeights(entry), fetchWeights(entry)]);
      assertEquals(a, b);
      assertEquals(await sha256Of(a), RESNET20_SHA256);
      assertEquals(server.requests.length, 1);
      assertEquals(await listDownloads(home), ["w.bin", "w.bin.verified"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: two processes pulling the same file get one correct file", async () => {
  const server = startServer({ [RESNET20_MIRROR_PATH]: { body: RESNET20, chunkDelayMs: 100 } });
  try {
    await withCache({ DENOZOO_MIRROR: server.origin }, async (home) => {
      const script = `${home}/pull.ts`;
      await Deno.writeTextFile(
        script,
        `import { fetchWeights } from ${JSON.stringify(import.meta.resolve("./cache.ts"))};
import { findWeights } from ${JSON.stringify(import.meta.resolve("./registry.ts"))};
console.log(await fetchWeights(findWeights("cifar_resnet20.cifar10"), { progress: true }));`,
      );
      const pull = () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "--no-lock", script],
          cwd: home,
          env: { DENOZOO_HOME: home, DENOZOO_MIRROR: server.origin, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const first = pull();
      // Start the second once the first holds the lock and is mid-download (~1.7 s long).
      for (let i = 0; i < 300 && server.requests.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assertEquals(server.requests.length, 1);
      assert((await Deno.stat(`${home}/downloads/resnet20-12fca82f.th.lock`)).isFile);
      const outputs = await Promise.all([first, pull()]);
      const decoder = new TextDecoder();
      for (const output of outputs) {
        assert(output.success, decoder.decode(output.stderr));
        assertEquals(
          decoder.decode(output.stdout).trim(),
          `${home}/downloads/resnet20-12fca82f.th`,
        );
        // `progress: true` stays silent when stderr is not a terminal.
        assertEquals(decoder.decode(output.stderr), "");
      }
      assertEquals(await sha256Of(`${home}/downloads/resnet20-12fca82f.th`), RESNET20_SHA256);
      // The second process waited on the lock and reused the file.
      assertEquals(server.requests.length, 1);
      assertEquals(await listDownloads(home), [
        "resnet20-12fca82f.th",
        "resnet20-12fca82f.th.verified",
      ]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a lock left by a dead or hung process is taken over", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20 } });
  try {
    await withCache({}, async (home) => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      await Deno.mkdir(`${home}/downloads`);
      const lock = `${home}/downloads/w.bin.lock`;
      // Our own pid, but with a heartbeat that stopped a minute ago.
      await Deno.writeTextFile(lock, JSON.stringify({ pid: Deno.pid }));
      const minuteAgo = new Date(Date.now() - 60_000);
      await Deno.utime(lock, minuteAgo, minuteAgo);
      const started = Date.now();
      assertEquals(await sha256Of(await fetchWeights(entry)), RESNET20_SHA256);
      assert(Date.now() - started < 5_000);
      assertEquals(await listDownloads(home), ["w.bin", "w.bin.verified"]);
      // A fresh lock of an exited process on this host is taken over without waiting for age.
      const exited = new Deno.Command(Deno.execPath(), { args: ["--version"], stdout: "null" })
        .spawn();
      await exited.status;
      await Deno.remove(`${home}/downloads/w.bin`);
      await Deno.writeTextFile(lock, JSON.stringify({ pid: exited.pid, host: Deno.hostname() }));
      const again = Date.now();
      assertEquals(await sha256Of(await fetchWeights(entry)), RESNET20_SHA256);
      assert(Date.now() - again < 5_000);
      assertEquals(server.requests.length, 2);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: an abort stops the download and releases the lock", async () => {
  const server = startServer({ "/w.bin": { body: RESNET20, chunkDelayMs: 50 } });
  try {
    await withCache({}, async (home) => {
      const entry = syntheticEntry(`${server.origin}/w.bin`, RESNET20, "sha256");
      const controller = new AbortController();
      const pending = fetchWeights(entry, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.received > 100_000) controller.abort();
        },
      });
      await assertRejects(() => pending);
      // The part stays for a later resume; no lock, no final file.
      assertEquals(await listDownloads(home), ["w.bin.part"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("fetchWeights: a host that does not resolve fails at once, naming DENOZOO_OFFLINE and DENOZOO_MIRROR", async () => {
  // `.invalid` never resolves (RFC 2606). Before: 5 retries with backoff, then `fetch failed`.
  await withCache({ DENOZOO_MIRROR: "http://mirror.invalid" }, async (home) => {
    const error = await assertRejects(() => fetchWeights(RESNET20_ENTRY), Error);
    assert(error.cause instanceof HostNotFoundError, String(error.cause));
    assertEquals(
      error.message,
      "could not download cifar_resnet20.cifar10: mirror.invalid does not resolve (no network, " +
        "or a mistyped host); set DENOZOO_MIRROR=URL to download from a mirror, or " +
        "DENOZOO_OFFLINE=1 to use only the cache, where this file belongs at " +
        `${home}/downloads/resnet20-12fca82f.th`,
    );
  });
});

Deno.test("fetchWeights: offline, a corrupt cached file is named with the expected and actual hash", async () => {
  await withCache({ DENOZOO_OFFLINE: "1" }, async (home) => {
    const path = `${home}/downloads/resnet20-12fca82f.th`;
    await Deno.mkdir(`${home}/downloads`);
    const damaged = RESNET20.slice();
    damaged[5000] ^= 1;
    await Deno.writeFile(path, damaged);
    const got = createHash("sha256").update(damaged).digest("hex");
    const error = await assertRejects(() => fetchWeights(RESNET20_ENTRY), Error);
    assertEquals(
      error.message,
      "DENOZOO_OFFLINE is set and resnet20-12fca82f.th (cifar_resnet20.cifar10) in the cache is " +
        `corrupt (expected sha256 starting 12fca82f, got sha256 ${got}); delete ${path} (or ` +
        "run `denozoo cache remove cifar_resnet20.cifar10`) and pull it again",
    );
    await Deno.writeTextFile(path, "short");
    const truncated = await assertRejects(() => fetchWeights(RESNET20_ENTRY), Error);
    assertMatch(truncated.message, /corrupt \(expected 1099231 bytes, got 5\); delete /);
  });
});

Deno.test("cache files: listed per entry, verified with hashes, removed with their sidecars", async () => {
  await withCache({}, async (home) => {
    assertEquals(await listCache(), []);
    const files = cachedFiles(RESNET20_ENTRY);
    assertEquals(files, {
      download: `${home}/downloads/resnet20-12fca82f.th`,
      converted: `${home}/models/cifar_resnet20.cifar10.safetensors`,
      onnx: `${home}/models/cifar_resnet20.cifar10.safetensors.nchw.onnx`,
    });
    await Deno.mkdir(`${home}/downloads`);
    await Deno.mkdir(`${home}/models`);
    await Deno.writeFile(files.download, RESNET20);
    await Deno.writeFile(files.converted, new Uint8Array(10));
    assertEquals(
      (await verifyDownload(RESNET20_ENTRY)).message,
      `cifar_resnet20.cifar10: ok (${files.download})`,
    );
    const rows = await listCache();
    assertEquals(rows.map((r) => [r.entry.id, r.present]), [
      ["cifar_resnet20.cifar10", { download: RESNET20.length, converted: 10 }],
    ]);
    const damaged = RESNET20.slice();
    damaged[7] ^= 1;
    await Deno.writeFile(files.download, damaged);
    const verdict = await verifyDownload(RESNET20_ENTRY);
    assertEquals(verdict.state, "corrupt");
    assertMatch(
      verdict.message,
      new RegExp(
        "^cifar_resnet20\\.cifar10: corrupt, expected sha256 starting 12fca82f, got sha256 " +
          `[0-9a-f]{64}; delete ${files.download} `,
      ),
    );
    assertEquals(await removeCached(RESNET20_ENTRY), [
      files.download,
      `${files.download}.verified`,
      files.converted,
    ]);
    assertEquals(await listCache(), []);
    assertEquals(await removeCached(RESNET20_ENTRY), []);
  });
});
