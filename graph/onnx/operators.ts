/**
 * The operators the ONNX runner supports, each with its compiler. A model using any other operator
 * (or any other domain) is refused when it is loaded.
 *
 * @example
 * ```ts
 * import { COMPILERS } from "./operators.ts";
 * console.log(Object.hasOwn(COMPILERS, "Conv"), Object.hasOwn(COMPILERS, "Resize")); // true false
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { numberAttr } from "./attributes.ts";
import { compileGemm, compileMatMul } from "./ops_dense.ts";
import { clipBounds, compileArithmetic, hardSigmoid, unary } from "./ops_elementwise.ts";
import {
  compileCast,
  compileConstantOfShape,
  compileGather,
  compileRange,
  compileShape,
} from "./ops_folding.ts";
import { compileReduceMean, compileSoftmax } from "./ops_reduce.ts";
import {
  compileConcat,
  compileFlatten,
  compilePad,
  compileReshape,
  compileSlice,
  compileSqueeze,
  compileTranspose,
  compileUnsqueeze,
} from "./ops_shape.ts";
import {
  compileAveragePool,
  compileBatchNorm,
  compileConv,
  compileMaxPool,
  globalPool,
} from "./ops_spatial.ts";
import type { OpCompiler } from "./schedule.ts";

/** Dropout and Identity: the input itself (Dropout is the identity at inference). */
const passThrough: OpCompiler = (b, node, inputs) => b.input(node, inputs, 0);

/** The compiler of each supported operator of the default domain, by op type. */
export const COMPILERS: Readonly<Record<string, OpCompiler>> = {
  Conv: compileConv,
  BatchNormalization: compileBatchNorm,
  Relu: unary(() => tf.relu),
  LeakyRelu: unary((b, node) => {
    const alpha = numberAttr(b, node, "alpha", 0.01);
    return (x) => tf.leakyRelu(x, alpha);
  }),
  Sigmoid: unary(() => tf.sigmoid),
  Clip: unary((b, node, inputs) => {
    const [low, high] = clipBounds(b, node, inputs);
    return (x) => tf.clipByValue(x, low, high);
  }),
  HardSigmoid: unary((b, node) =>
    hardSigmoid(numberAttr(b, node, "alpha", 0.2), numberAttr(b, node, "beta", 0.5))
  ),
  HardSwish: unary(() => {
    const gate = hardSigmoid(1 / 6, 0.5);
    return (x) => tf.mul(x, gate(x));
  }),
  Add: compileArithmetic,
  Sub: compileArithmetic,
  Mul: compileArithmetic,
  Div: compileArithmetic,
  Concat: compileConcat,
  MaxPool: compileMaxPool,
  AveragePool: compileAveragePool,
  GlobalAveragePool: globalPool((x) => tf.mean(x, [1, 2], true)),
  GlobalMaxPool: globalPool((x) => tf.max(x, [1, 2], true)),
  Flatten: compileFlatten,
  Reshape: compileReshape,
  Transpose: compileTranspose,
  Squeeze: compileSqueeze,
  Unsqueeze: compileUnsqueeze,
  Gemm: compileGemm,
  MatMul: compileMatMul,
  Pad: compilePad,
  Slice: compileSlice,
  Softmax: compileSoftmax,
  ReduceMean: compileReduceMean,
  Dropout: passThrough,
  Identity: passThrough,
  Shape: compileShape,
  Gather: compileGather,
  Cast: compileCast,
  ConstantOfShape: compileConstantOfShape,
  Range: compileRange,
};
