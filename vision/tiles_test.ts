import { assertEquals, assertThrows } from "@std/assert";
import { decodeImage } from "./decode.ts";
import { splitImageRows } from "./tiles.ts";
import { pixel, readImageFixture } from "../tests/image_fixtures.ts";

const SHARED = new URL("../testdata/", import.meta.url);

Deno.test("splitImageRows: the CIFAR-10 strip gives 1000 32×32 images, equal to numpy's read", async () => {
  const file = new URL("cifar10-test/test_1000.png", SHARED);
  const strip = await decodeImage(await Deno.readFile(file), file.pathname);
  assertEquals([strip.width, strip.height], [1024, 1000]);
  const images = splitImageRows(strip, 32, 32);
  assertEquals(images.length, 1000);
  assertEquals([images[0].width, images[0].height, images[0].data.length], [32, 32, 3072]);
  // numpy: np.asarray(Image.open("test_1000.png"))[0, :2] and [999, -1]
  assertEquals(pixel(images[0], 0, 0), [158, 112, 49]);
  assertEquals(pixel(images[0], 1, 0), [159, 111, 47]);
  assertEquals(pixel(images[999], 31, 31), [93, 110, 131]);
  assertEquals(images[0].data, await readImageFixture("cifar_test_0.rgb"));
  assertEquals(images[999].data, await readImageFixture("cifar_test_999.rgb"));
  assertThrows(() => splitImageRows(strip, 32, 16), RangeError, "a 32×16 tile needs 512");
});
