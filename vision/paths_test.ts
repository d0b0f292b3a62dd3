import { assertEquals, assertRejects } from "@std/assert";
import { expandImageArgs } from "./paths.ts";

Deno.test("expandImageArgs: files, directories, *, ? and ** globs, sorted and deduplicated", async () => {
  const root = await Deno.makeTempDir({ prefix: "denozoo_images_" });
  const files = [
    "a/one.jpg",
    "a/two.JPEG",
    "a/notes.txt",
    "a/b/three.png",
    "a/b/c/four.webp",
    "a/.hidden/five.png",
    "six.gif",
    "seven.jpg",
    "data.bin",
  ];
  try {
    for (const file of files) {
      await Deno.mkdir(`${root}/${file.slice(0, file.lastIndexOf("/") + 1)}`, { recursive: true });
      await Deno.writeFile(`${root}/${file}`, new Uint8Array([1]));
    }
    await Deno.symlink(`${root}/a`, `${root}/a/b/loop`); // must not be walked into
    const at = (...names: string[]) => names.map((n) => `${root}/${n}`);

    assertEquals(
      await expandImageArgs([`${root}/a`]),
      at("a/b/c/four.webp", "a/b/three.png", "a/one.jpg", "a/two.JPEG"),
    );
    assertEquals(await expandImageArgs([`${root}/*.jpg`]), at("seven.jpg"));
    assertEquals(await expandImageArgs([`${root}/s?x.gif`]), at("six.gif"));
    assertEquals(await expandImageArgs([`${root}/*`]), at("seven.jpg", "six.gif"));
    assertEquals(
      await expandImageArgs([`${root}/**/*.png`]),
      at("a/b/three.png"), // .hidden is skipped, as a shell would
    );
    assertEquals(
      await expandImageArgs([`${root}/a/**`]),
      at("a/b/c/four.webp", "a/b/three.png", "a/one.jpg", "a/two.JPEG"),
    );
    assertEquals(await expandImageArgs([`${root}/a/.*/*`]), at("a/.hidden/five.png"));
    // Argument order is kept; duplicates keep their first place; explicit files keep any extension.
    assertEquals(
      await expandImageArgs([
        `${root}/six.gif`,
        `${root}/data.bin`,
        `${root}/**/*.gif`,
        `${root}/a/b`,
      ]),
      at("six.gif", "data.bin", "a/b/c/four.webp", "a/b/three.png"),
    );
    // Relative patterns give relative paths.
    const cwd = Deno.cwd();
    Deno.chdir(root);
    try {
      assertEquals(await expandImageArgs(["**/t*.*"]), ["a/b/three.png", "a/two.JPEG"]);
    } finally {
      Deno.chdir(cwd);
    }
    await assertRejects(() => expandImageArgs([`${root}/missing.jpg`]), Deno.errors.NotFound);
    await assertRejects(
      () => expandImageArgs([`${root}/*.tiff`]),
      Deno.errors.NotFound,
      "no image files found",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
