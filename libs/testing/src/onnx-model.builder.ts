import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';

/**
 * Tiny ONNX models written at test time, with the real models' tensor names, layouts and dynamic
 * axes, and outputs with a known answer. Opset 17 (ReduceMean takes `axes` as an attribute).
 */
const FLOAT = onnx.TensorProto.DataType.FLOAT;
type Dim = number | string;

function valueInfo(name: string, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function node(opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []): onnx.INodeProto {
  return { opType, input, output, attribute, name: `${opType}_${output[0]}` };
}

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

function encodeModel(graph: onnx.IGraphProto): Buffer {
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'fathom-tests', graph });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/**
 * Depth Anything V2's signature; output = mean of the three normalised input channels, or its
 * negative when `inverted` (a "fine-tune" whose answer is told apart from the base's at a glance).
 */
export function buildDepthStandInModel(opts: { inverted?: boolean } = {}): Buffer {
  const mean = node('ReduceMean', ['pixel_values'], [opts.inverted ? 'mean' : 'predicted_depth'], [ints('axes', [1]), int('keepdims', 0)]);
  return encodeModel({
    name: opts.inverted ? 'inverted-depth-stand-in' : 'depth-stand-in',
    node: opts.inverted ? [mean, node('Neg', ['mean'], ['predicted_depth'])] : [mean],
    input: [valueInfo('pixel_values', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('predicted_depth', ['batch_size', 'height', 'width'])],
  });
}

/**
 * The depth stand-in made slow on purpose: after the channel mean, `matmulLayers` multiplications
 * by a side×side identity matrix (so the answer is unchanged). It only runs on square inputs of
 * exactly `side` × `side`. About 1.2 ms per layer at side 518 on 2 cores (≈ 0.5 s at the default 400).
 */
export function buildSlowDepthModel(opts: { side: number; matmulLayers?: number }): Buffer {
  const layers = opts.matmulLayers ?? 400;
  const { side } = opts;
  const identity = new Float32Array(side * side);
  for (let i = 0; i < side; i++) identity[i * side + i] = 1;
  const nodes = [node('ReduceMean', ['pixel_values'], ['y0'], [ints('axes', [1]), int('keepdims', 0)])];
  for (let i = 0; i < layers; i++) nodes.push(node('MatMul', [`y${i}`, 'identity'], [i === layers - 1 ? 'predicted_depth' : `y${i + 1}`]));
  return encodeModel({
    name: 'slow-depth-stand-in',
    node: nodes,
    initializer: [{ name: 'identity', dataType: FLOAT, dims: [side, side], rawData: new Uint8Array(identity.buffer) }],
    input: [valueInfo('pixel_values', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('predicted_depth', ['batch_size', 'height', 'width'])],
  });
}

/** PP-OCR detector's signature; output = sigmoid(mean of the normalised channels), [N,1,H,W]. */
export function buildHeatmapStandInModel(): Buffer {
  return encodeModel({
    name: 'heatmap-stand-in',
    node: [node('ReduceMean', ['x'], ['mean'], [ints('axes', [1]), int('keepdims', 1)]), node('Sigmoid', ['mean'], ['sigmoid_0.tmp_0'])],
    input: [valueInfo('x', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('sigmoid_0.tmp_0', ['batch_size', 1, 'height', 'width'])],
  });
}

export function writeModel(dir: string, fileName: string, model: Buffer): string {
  const path = join(dir, fileName);
  writeFileSync(path, model);
  return path;
}

/**
 * A two-class segmentation stand-in: input `input` [N,3,H,W] → logits `output` [N,2,H,W] with
 * class 1 = mean of the normalised channels and class 0 = its negative. Known answer: pixels
 * brighter than ImageNet's mean grey are class 1.
 */
export function buildSegmentationStandInModel(): Buffer {
  return encodeModel({
    name: 'segmentation-stand-in',
    node: [
      node('ReduceMean', ['input'], ['mean'], [ints('axes', [1]), int('keepdims', 1)]),
      node('Neg', ['mean'], ['negative']),
      node('Concat', ['negative', 'mean'], ['output'], [int('axis', 1)]),
    ],
    input: [valueInfo('input', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('output', ['batch_size', 2, 'height', 'width'])],
  });
}

/**
 * A classification stand-in: input `input` [N,3,H,W] → logits `output` [N,3] = the mean of each
 * normalised channel. Known answer: the dominant colour of the image wins (labels red, green, blue).
 */
export function buildClassificationStandInModel(): Buffer {
  return encodeModel({
    name: 'classification-stand-in',
    node: [node('ReduceMean', ['input'], ['output'], [ints('axes', [2, 3]), int('keepdims', 0)])],
    input: [valueInfo('input', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('output', ['batch_size', 3])],
  });
}
