import { assertEquals, assertRejects } from "@std/assert";
import { readImageFolder, splitSamples } from "./image_folder.ts";

Deno.test("readImageFolder: sorted classes, hidden folders skipped, clear refusals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, file] of [["b_people", "grace_hopper.jpg"], ["a_cats", "cat.jpg"]]) {
      await Deno.mkdir(`${dir}/${name}/nested`, { recursive: true });
      await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/nested/${file}`);
    }
    await Deno.mkdir(`${dir}/.cache`);
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a class");
    const folder = await readImageFolder(dir);
    assertEquals(folder.classes, ["a_cats", "b_people"]);
    assertEquals(folder.samples, [
      { path: `${dir}/a_cats/nested/cat.jpg`, label: 0 },
      { path: `${dir}/b_people/nested/grace_hopper.jpg`, label: 1 },
    ]);
    const flat = await Deno.makeTempDir();
    await Deno.copyFile("testdata/images/cat.jpg", `${flat}/cat.jpg`);
    await assertRejects(
      () => readImageFolder(flat),
      Error,
      `${flat}: no class folders (finetune reads ${flat}/<class name>/<images>: torchvision's ImageFolder layout)`,
    );
    await Deno.remove(flat, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("splitSamples: per class, seeded, at least one image left to train on", () => {
  const samples = Array.from(
    { length: 25 },
    (_, i) => ({ path: `${i}.png`, label: i < 20 ? 0 : 1 }),
  );
  const a = splitSamples(samples, 0.2, 7);
  assertEquals([a.train.length, a.val.length], [20, 5]);
  assertEquals(a.val.filter((s) => s.label === 0).length, 4);
  assertEquals(splitSamples(samples, 0.2, 7), a);
  const other = splitSamples(samples, 0.2, 8);
  assertEquals(other.val.length, 5);
  assertEquals(other.val.map((s) => s.path).join() === a.val.map((s) => s.path).join(), false);
  const tiny = splitSamples([{ path: "x", label: 0 }, { path: "y", label: 1 }], 0.5);
  assertEquals([tiny.train.length, tiny.val.length], [2, 0]);
  assertEquals(splitSamples(samples, 0).val, []);
});
