/**
 * A download that runs out of disk space must fail cleanly and never leave a file under
 * its final name. The cache lives on a 600 KB tmpfs (mounting needs root, as in CI; the
 * test is skipped elsewhere) while the checkpoint is 1.1 MB.
 */

import { assert, assertRejects } from "@std/assert";
import { cachedPath, fetchWeights } from "./cache.ts";
import { findWeights } from "./registry.ts";

async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const status = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  return status?.success ?? false;
}

const root = Deno.uid?.() === 0 && Deno.build.os === "linux";

Deno.test({
  name: "a full disk fails the download and leaves nothing under the final name",
  ignore: !root,
  async fn() {
    const home = await Deno.makeTempDir();
    if (!(await mountTmpfs(home, "600k"))) {
      await Deno.remove(home);
      console.warn("tmpfs could not be mounted; skipped");
      return;
    }
    const checkpoint = await Deno.readFile(
      new URL("../testdata/cifar10-resnet/resnet20-12fca82f.th", import.meta.url),
    );
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(checkpoint),
    );
    const saved = ["DENOZOO_HOME", "DENOZOO_MIRROR", "DENOZOO_OFFLINE"].map((
      k,
    ) => [k, Deno.env.get(k)] as const);
    Deno.env.set("DENOZOO_HOME", home);
    Deno.env.set("DENOZOO_MIRROR", `http://127.0.0.1:${server.addr.port}`);
    Deno.env.delete("DENOZOO_OFFLINE");
    const entry = findWeights("cifar_resnet20.cifar10");
    try {
      const error = await assertRejects(() => fetchWeights(entry));
      assert(/space|ENOSPC|No space/i.test(String(error)), String(error));
      const final = await Deno.stat(cachedPath(entry)).then(() => true, () => false);
      assert(!final, "no file under the final name");
    } finally {
      for (const [key, value] of saved) {
        if (value === undefined) Deno.env.delete(key);
        else Deno.env.set(key, value);
      }
      await server.shutdown();
      await new Deno.Command("umount", { args: [home] }).output();
      await Deno.remove(home, { recursive: true });
    }
  },
});
