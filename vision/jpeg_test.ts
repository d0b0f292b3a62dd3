import { assert, assertEquals } from "@std/assert";
import { decodeJpegImage } from "./jpeg.ts";
import { byteErrors, readImageFixture } from "../tests/image_fixtures.ts";

const SHARED = new URL("../testdata/", import.meta.url);

Deno.test("JPEG: the shared photos against Pillow (libjpeg-turbo), 64×64 crops", async () => {
  // jpeg-js and libjpeg-turbo differ in IDCT rounding (±3 measured on cat.jpg, which is 4:4:4)
  // and, for 4:2:0 files, in chroma upsampling: jpeg-js replicates chroma samples where libjpeg
  // interpolates ("fancy upsampling"), which gives up to ~60 at sharp colour edges. Measured on
  // these crops: cat max 3 / mean 0.46; grace_hopper max 9 / mean 1.26; fish-bike max 60 /
  // mean 2.59 (whole images: mean 0.53, 1.18, 0.91).
  const cases = [
    { name: "cat", width: 480, height: 360, x: 208, y: 148, max: 3, mean: 0.6 },
    { name: "grace_hopper", width: 517, height: 606, x: 226, y: 271, max: 12, mean: 1.5 },
    { name: "fish-bike", width: 481, height: 323, x: 208, y: 130, max: 64, mean: 3 },
  ];
  for (const { name, width, height, x, y, max, mean } of cases) {
    const file = new URL(`images/${name}.jpg`, SHARED);
    const image = decodeJpegImage(await Deno.readFile(file), file.pathname);
    assertEquals([image.width, image.height], [width, height], name);
    const crop = new Uint8Array(64 * 64 * 3);
    for (let row = 0; row < 64; row++) {
      const start = ((y + row) * width + x) * 3;
      crop.set(image.data.subarray(start, start + 64 * 3), row * 64 * 3);
    }
    const errors = byteErrors(crop, await readImageFixture(`${name}_x${x}_y${y}_64x64.rgb`));
    assert(errors.max <= max, `${name}: max |Δ| ${errors.max} > ${max}`);
    assert(errors.mean <= mean, `${name}: mean |Δ| ${errors.mean} > ${mean}`);
  }
});
