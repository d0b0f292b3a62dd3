/**
 * A faster filter gradient for tfjs' cpu backend. Its `Conv2DBackpropFilter` reads every
 * element through `TensorBuffer.get` with the output channel outermost, which made one training
 * step of a CIFAR ResNet-20's last stage on six 32×32 images take 45 s here, almost all of it in
 * that kernel. This one computes the same sums for NHWC tensors as outer products of an input
 * pixel's channels and an output pixel's gradient, on the typed arrays directly: the step then
 * takes 1.4–2.1 s, most of it the forward convolutions. NCHW tensors still go to tfjs' own
 * kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-layers"; // registers the gradients
 * import { useBackend } from "./backend.ts";
 * import { useFastCpuFilterGradient } from "./cpu_gradients.ts";
 * await useBackend("cpu");
 * useFastCpuFilterGradient();
 * const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
 * const dW = tf.grad((w) => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, "same")))(tf.zeros([3, 3, 1, 1]));
 * console.log(Array.from(await dW.data())); // [ 9, 12, 9, 12, 16, 12, 9, 12, 9 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** What tfjs hands a Conv2DBackpropFilter kernel. */
interface FilterGradientAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** The cpu backend's view of its tensors' values. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

/**
 * dW[kh, kw, ci, co] = Σ over images and output pixels of x[input pixel, ci] · dy[pixel, co],
 * for NHWC `x` and `dy` (zero padding outside `x`).
 */
function filterGradient(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dW = new Float32Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const block = (kh * filterWidth + kw) * inChannels * outChannels;
      for (let b = 0; b < batchSize; b++) {
        for (let oh = 0; oh < outHeight; oh++) {
          const ih = oh * strideHeight + kh - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let ow = 0; ow < outWidth; ow++) {
            const iw = ow * strideWidth + kw - left;
            if (iw < 0 || iw >= inWidth) continue;
            const xRow = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const dyRow = ((b * outHeight + oh) * outWidth + ow) * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const value = x[xRow + ci];
              if (value === 0) continue; // after a ReLU, about half the inputs
              const out = block + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dW[out + co] += value * dy[dyRow + co];
            }
          }
        }
      }
    }
  }
  return dW;
}

let installed = false;

/**
 * Replaces the cpu backend's `Conv2DBackpropFilter` with the fast one above (once; NCHW input
 * still runs tfjs' own). `trainLastStages` and a zoo model's LayersModel call it, so that
 * `fit` on cpu trains at a usable speed.
 *
 * @example
 * ```ts
 * useFastCpuFilterGradient(); // a second call changes nothing
 * useFastCpuFilterGradient();
 * ```
 */
export function useFastCpuFilterGradient(): void {
  const original = tf.getKernel(tf.Conv2DBackpropFilter, "cpu");
  if (installed || !original) return;
  installed = true;
  tf.unregisterKernel(tf.Conv2DBackpropFilter, "cpu");
  tf.registerKernel({
    kernelName: tf.Conv2DBackpropFilter,
    backendName: "cpu",
    kernelFunc(args) {
      const attrs = args.attrs as unknown as FilterGradientAttrs;
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      if (attrs.dataFormat === "NCHW" || x.dtype !== "float32") return original.kernelFunc(args);
      const backend = args.backend as CpuBackend;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        attrs.filterShape,
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
      );
      const dW = filterGradient(
        backend.data.get(x.dataId).values,
        backend.data.get(dy.dataId).values,
        info,
      );
      return backend.makeTensorInfo(info.filterShape, "float32", dW);
    },
  });
}
