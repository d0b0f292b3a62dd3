import { assert, assertEquals } from "@std/assert";
import { fuseMultiplyAdds, relaxSimd, tallTilesOnX86 } from "./wasm_relaxed.ts";

/** Hand-written kernels in each shape the rewrite meets (source: fixtures/wasm/kernels.wat). */
const kernels = await Deno.readFile(
  new URL("../testdata/fixtures/wasm/kernels.wasm", import.meta.url),
);

type Kernels = Record<string, (...args: number[]) => number>;
const run = async (bytes: Uint8Array<ArrayBuffer>) =>
  (await WebAssembly.instantiate(bytes)).instance.exports as unknown as Kernels;

Deno.test("fuseMultiplyAdds fuses both operand orders and chains, and keeps what it cannot see", async () => {
  const { bytes, fused } = fuseMultiplyAdds(kernels);
  assert(WebAssembly.validate(bytes));
  // product_second 1, product_first 1, chain 3, nested 1 (its outer add is left), through_call 0.
  assertEquals(fused, 6);
  const [before, after] = [await run(kernels.slice()), await run(bytes)];
  // Small integers: every product and sum is exact, so fused and unfused agree exactly.
  const cases: [string, number[]][] = [
    ["product_second", [5, 3, -7]],
    ["product_first", [5, 3, -7]],
    ["chain", [2, 3, 5, 7]],
    ["nested", [1, 2, 3, 7, 4]],
    ["through_call", [9, 4]],
  ];
  for (const [name, args] of cases) {
    assertEquals(after[name](...args), before[name](...args), name);
  }
  assertEquals(after.product_second(5, 3, -7), 5 + 3 * -7);
  assertEquals(after.chain(2, 3, 5, 7), 2 + 2 * 3 + 5 * 7 + 3 * 7);
  assertEquals(after.nested(1, 2, 3, 7, 4), 1 + ((2 + (7 - 3) * 4) - 3) * 4);
});

Deno.test("tallTilesOnX86 turns inf - inf into inf + inf at its one place", async () => {
  const turned = tallTilesOnX86(kernels)!;
  assertEquals(turned.length, kernels.length);
  assertEquals(turned.filter((byte, i) => byte !== kernels[i]).length, 1);
  assertEquals((await run(turned)).is_x86(), 0);
  // Once turned, the test is no longer there to find.
  assertEquals(tallTilesOnX86(turned), undefined);
});

Deno.test("relaxSimd rewrites tfjs-backend-wasm's SIMD builds, and leaves other modules", async () => {
  for (const build of ["tfjs-backend-wasm-threaded-simd.wasm", "tfjs-backend-wasm-simd.wasm"]) {
    const url = import.meta.resolve(`@tensorflow/tfjs-backend-wasm/wasm-out/${build}`);
    const relaxed = relaxSimd(await Deno.readFile(new URL(url)));
    if (!relaxed) throw new Error(`${build} was not rewritten`);
    assert(relaxed.fused > 1000, `${build}: ${relaxed.fused} fused`);
    assert(relaxed.tallTiles, build);
    await WebAssembly.compile(relaxed.bytes);
  }
  // No SIMD multiply-adds: nothing to do.
  const plain = import.meta.resolve(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm",
  );
  assertEquals(relaxSimd(await Deno.readFile(new URL(plain))), undefined);
  assertEquals(relaxSimd(new Uint8Array([1, 2, 3])), undefined);
});
