/**
 * Which tfjs backends can train a ResNet. `layersModel.fit` needs the gradients of every layer;
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (the gradient of a convolution's
 * filter), so training there fails midway with "Kernel 'Conv2DBackpropFilter' not registered".
 * The cpu backend has every gradient, and so has WebGPU (also on Mesa's software adapter, where
 * it is slow). Checking the kernel registry up front turns that failure into a clear refusal.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { trainingProblem } from "./training.ts";
 * await useBackend("wasm");
 * console.log(trainingProblem());
 * // backend 'wasm' cannot train a ResNet: it has no kernel 'Conv2DBackpropFilter' (the gradient of a convolution's filter); train on 'cpu', or 'webgpu' on a GPU
 * await useBackend("cpu");
 * console.log(trainingProblem()); // undefined
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** The gradient kernels training a ResNet needs, with what each computes. */
const GRADIENT_KERNELS: Readonly<Record<string, string>> = {
  Conv2DBackpropFilter: "the gradient of a convolution's filter",
  Conv2DBackpropInput: "the gradient of a convolution's input",
  MaxPoolGrad: "the gradient of a max-pool",
};

/**
 * Why a backend cannot train a ResNet (the first gradient kernel it lacks), or `undefined`
 * when it can.
 *
 * @param backend A registered backend's name (default: the active one).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * console.log(trainingProblem("cpu")); // undefined
 * ```
 */
export function trainingProblem(backend: string = tf.getBackend()): string | undefined {
  for (const [kernel, what] of Object.entries(GRADIENT_KERNELS)) {
    if (!tf.getKernel(kernel, backend)) {
      return `backend '${backend}' cannot train a ResNet: it has no kernel '${kernel}' (${what}); ` +
        "train on 'cpu', or 'webgpu' on a GPU";
    }
  }
  return undefined;
}
