import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers"; // registers the gradients
import { assert, assertEquals } from "@std/assert";
import { useBackend } from "./backend.ts";
import { useFastCpuFilterGradient } from "./cpu_gradients.ts";
import { relativeError } from "../tests/helpers.ts";

type Shape = [number, number, number, number];
type Case = [Shape, Shape, number, "same" | "valid" | number];

/** Input shape, filter shape, stride and padding of the convolutions a ResNet has, and odd ones. */
const CASES: Case[] = [
  [[2, 9, 9, 3], [3, 3, 3, 4], 1, "same"],
  [[2, 9, 9, 3], [3, 3, 3, 4], 2, 1],
  [[1, 15, 13, 3], [7, 7, 3, 5], 2, 3],
  [[3, 8, 8, 6], [1, 1, 6, 8], 2, "valid"],
  [[1, 7, 10, 2], [3, 3, 2, 3], 2, "same"],
];

Deno.test("the fast cpu filter gradient equals tfjs' own on NHWC and NCHW convolutions", async () => {
  await useBackend("cpu");
  const gradients = () =>
    Promise.all(CASES.map(async ([xShape, wShape, stride, pad], i) => {
      const x = tf.randomNormal(xShape, 0, 1, "float32", 1 + i) as tf.Tensor4D;
      const w = tf.randomNormal(wShape, 0, 1, "float32", 10 + i) as tf.Tensor4D;
      const nhwc = tf.grad((v) => tf.sum(tf.square(tf.conv2d(x, v as tf.Tensor4D, stride, pad))))(
        w,
      );
      const nchw = tf.grad((v) =>
        tf.sum(
          tf.square(
            tf.conv2d(tf.transpose(x, [0, 3, 1, 2]), v as tf.Tensor4D, stride, pad, "NCHW"),
          ),
        )
      )(w);
      return [await nhwc.data(), await nchw.data()] as const;
    }));
  const reference = await gradients();
  useFastCpuFilterGradient();
  const fast = await gradients();
  for (const [i, [nhwc, nchw]] of fast.entries()) {
    assertEquals(nhwc.length, reference[i][0].length);
    assert(relativeError(nhwc, reference[i][0]) < 1e-5, `case ${i} NHWC`);
    assert(relativeError(nchw, reference[i][1]) < 1e-5, `case ${i} NCHW`);
  }
  await useBackend("wasm");
});
