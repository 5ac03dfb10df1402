import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { runOnnx } from './onnx-run';

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

const ints = (name: string, values: number[]): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: values,
});
const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

function encodeModel(graph: onnx.IGraphProto): Buffer {
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'fathom-tests', graph });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/**
 * Depth Anything V2's signature; output = mean of the three normalised input channels, or its
 * negative when `inverted` (a "fine-tune" whose answer is told apart from the base's at a glance).
 * `batch`: the batch axis, dynamic (`batch_size`) unless a fixed size is given, as some exports have.
 */
export function buildDepthStandInModel(opts: { inverted?: boolean; batch?: Dim } = {}): Buffer {
  const batch = opts.batch ?? 'batch_size';
  const mean = node('ReduceMean', ['pixel_values'], [opts.inverted ? 'mean' : 'predicted_depth'], [ints('axes', [1]), int('keepdims', 0)]);
  return encodeModel({
    name: opts.inverted ? 'inverted-depth-stand-in' : 'depth-stand-in',
    node: opts.inverted ? [mean, node('Neg', ['mean'], ['predicted_depth'])] : [mean],
    input: [valueInfo('pixel_values', [batch, 3, 'height', 'width'])],
    output: [valueInfo('predicted_depth', [batch, 'height', 'width'])],
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

/**
 * The slow stand-in sized so that one inference lasts about `targetMs` on this machine, whatever
 * its speed: timed at 200 layers (session creation included, so it errs long), then scaled.
 */
export async function buildSlowDepthModelLasting(opts: { side: number; targetMs: number }): Promise<Buffer> {
  const layers = 200;
  const probe = writeModel(
    mkdtempSync(join(tmpdir(), 'fathom-slow-')),
    'probe.onnx',
    buildSlowDepthModel({ side: opts.side, matmulLayers: layers }),
  );
  const startedAt = Date.now();
  await runOnnx(probe, { pixel_values: { data: new Float32Array(3 * opts.side * opts.side), dims: [1, 3, opts.side, opts.side] } });
  const msPerLayer = (Date.now() - startedAt) / layers;
  return buildSlowDepthModel({ side: opts.side, matmulLayers: Math.ceil(opts.targetMs / msPerLayer) });
}

/**
 * The depth stand-in with a hang its input decides, as a model meeting an input it cannot handle:
 * beside the channel mean, a Loop whose trip count is the brightest normalised input value ×
 * `iterationsPerUnit` (each iteration adds 1 to a scalar, on one core). A blank or dark input (the
 * warm-up's, a dark image) loops 0 times and answers at once, pixel for pixel as the plain stand-in;
 * a white image (≈ 2.6 once normalised) keeps session.run in native code for hours at the default
 * 1e10, which nothing in JavaScript can interrupt.
 */
export function buildHangingDepthModel(opts: { iterationsPerUnit?: number } = {}): Buffer {
  const BOOL = onnx.TensorProto.DataType.BOOL;
  const INT64 = onnx.TensorProto.DataType.INT64;
  const scalar = (name: string, elemType: number): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: [] } } },
  });
  const body: onnx.IGraphProto = {
    name: 'count',
    node: [node('Identity', ['cond_in'], ['cond_out']), node('Add', ['v_in', 'one'], ['v_out'])],
    initializer: [{ name: 'one', dataType: FLOAT, dims: [], floatData: [1] }],
    input: [scalar('i', INT64), scalar('cond_in', BOOL), scalar('v_in', FLOAT)],
    output: [scalar('cond_out', BOOL), scalar('v_out', FLOAT)],
  };
  return encodeModel({
    name: 'hanging-depth-stand-in',
    node: [
      node('ReduceMean', ['pixel_values'], ['mean'], [ints('axes', [1]), int('keepdims', 0)]),
      node('ReduceMax', ['pixel_values'], ['peak'], [int('keepdims', 0)]),
      node('Mul', ['peak', 'per_unit'], ['scaled']),
      node('Relu', ['scaled'], ['positive']),
      node('Cast', ['positive'], ['trips'], [int('to', INT64)]),
      node('Loop', ['trips', 'always', 'start'], ['counted'], [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }]),
      node('Mul', ['counted', 'zero'], ['nothing']),
      node('Add', ['mean', 'nothing'], ['predicted_depth']),
    ],
    initializer: [
      { name: 'per_unit', dataType: FLOAT, dims: [], floatData: [opts.iterationsPerUnit ?? 1e10] },
      { name: 'always', dataType: BOOL, dims: [], int32Data: [1] },
      { name: 'start', dataType: FLOAT, dims: [], floatData: [0] },
      { name: 'zero', dataType: FLOAT, dims: [], floatData: [0] },
    ],
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

/**
 * A Depth-Anything-shaped network that costs real compute: a 14×14 stride-14 patch embedding to
 * `channels` channels, `blocks` 3×3 convolutions with ReLU at 1/14 scale (the backbone), then a
 * DPT-like head (3×3 conv, ×2 upsampling, 1×1 conv to one channel, ×7 upsampling) back to the
 * input's size. `pixel_values` [N,3,H,W] (H and W multiples of 14) → `predicted_depth` [N,H,W].
 * Weights are seeded pseudo-random (He-uniform), so the answer is not meaningful but depends on
 * the image. About 1.3 GMAC at 518×686 with the defaults (tens of ms on 2 cores).
 */
export function buildConvDepthModel(opts: { channels?: number; blocks?: number; seed?: number } = {}): Buffer {
  const channels = opts.channels ?? 96;
  const blocks = opts.blocks ?? 8;
  let state = (opts.seed ?? 1) >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const initializer: onnx.ITensorProto[] = [];
  const conv = (
    name: string,
    input: string,
    output: string,
    cin: number,
    cout: number,
    kernel: number,
    stride: number,
  ): onnx.INodeProto => {
    const bound = Math.sqrt(6 / (cin * kernel * kernel));
    const weight = Float32Array.from({ length: cout * cin * kernel * kernel }, () => (random() * 2 - 1) * bound);
    const bias = Float32Array.from({ length: cout }, () => (random() * 2 - 1) * 0.05);
    initializer.push({
      name: `${name}.weight`,
      dataType: FLOAT,
      dims: [cout, cin, kernel, kernel],
      rawData: new Uint8Array(weight.buffer),
    });
    initializer.push({ name: `${name}.bias`, dataType: FLOAT, dims: [cout], rawData: new Uint8Array(bias.buffer) });
    const pad = stride === 1 ? (kernel - 1) / 2 : 0;
    return node(
      'Conv',
      [input, `${name}.weight`, `${name}.bias`],
      [output],
      [ints('kernel_shape', [kernel, kernel]), ints('strides', [stride, stride]), ints('pads', [pad, pad, pad, pad])],
    );
  };
  const upsample = (name: string, input: string, output: string, factor: number): onnx.INodeProto => {
    initializer.push({
      name: `${name}.scales`,
      dataType: FLOAT,
      dims: [4],
      rawData: new Uint8Array(new Float32Array([1, 1, factor, factor]).buffer),
    });
    const mode: onnx.IAttributeProto = { name: 'mode', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('linear') };
    return node('Resize', [input, '', `${name}.scales`], [output], [mode]);
  };
  const nodes: onnx.INodeProto[] = [conv('patch_embed', 'pixel_values', 'tokens', 3, channels, 14, 14)];
  let x = 'tokens';
  for (let i = 0; i < blocks; i++) {
    nodes.push(conv(`block${i}`, x, `block${i}.conv`, channels, channels, 3, 1), node('Relu', [`block${i}.conv`], [`block${i}.out`]));
    x = `block${i}.out`;
  }
  const headChannels = Math.max(8, channels / 2);
  nodes.push(
    conv('head.conv1', x, 'head.conv1', channels, headChannels, 3, 1),
    node('Relu', ['head.conv1'], ['head.relu1']),
    upsample('head.up2', 'head.relu1', 'head.up2', 2),
    conv('head.conv2', 'head.up2', 'head.conv2', headChannels, 1, 1, 1),
    upsample('head.up7', 'head.conv2', 'head.depth', 7),
  );
  initializer.push({
    name: 'squeeze.axes',
    dataType: onnx.TensorProto.DataType.INT64,
    dims: [1],
    rawData: new Uint8Array(new BigInt64Array([1n]).buffer),
  });
  nodes.push(node('Squeeze', ['head.depth', 'squeeze.axes'], ['predicted_depth']));
  return encodeModel({
    name: 'conv-depth-stand-in',
    node: nodes,
    initializer,
    input: [valueInfo('pixel_values', ['batch_size', 3, 'height', 'width'])],
    output: [valueInfo('predicted_depth', ['batch_size', 'height', 'width'])],
  });
}

/**
 * A super-resolution stand-in: `input` [N,C,tile,tile] (C = 1 by default: Y) → `output`
 * [N,C,tile·scale,tile·scale], each pixel repeated scale × scale times (nearest neighbour). Known
 * answer: output pixel (x, y) is input pixel (⌊x/scale⌋, ⌊y/scale⌋), so tiles stitched in the
 * wrong place show. `tile` 'dynamic' gives symbolic height and width (the whole image at once).
 */
export function buildUpscaleStandInModel(opts: { tile: number | 'dynamic'; scale: number; channels?: number }): Buffer {
  const { tile, scale } = opts;
  const channels = opts.channels ?? 1;
  const side = (name: string): Dim => (tile === 'dynamic' ? name : tile);
  const out = (name: string): Dim => (tile === 'dynamic' ? `${name}_x${scale}` : tile * scale);
  const str = (name: string, value: string): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.STRING,
    s: Buffer.from(value),
  });
  return encodeModel({
    name: 'upscale-stand-in',
    node: [
      node(
        'Resize',
        ['input', '', 'scales'],
        ['output'],
        [str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor')],
      ),
    ],
    initializer: [{ name: 'scales', dataType: FLOAT, dims: [4], floatData: [1, 1, scale, scale] }],
    input: [valueInfo('input', ['batch_size', channels, side('height'), side('width')])],
    output: [valueInfo('output', ['batch_size', channels, out('height'), out('width')])],
  });
}

/**
 * Depth Anything V2's signature with a known answer whatever the image: `values` ([height, width],
 * row-major) plus 0 × the input's channel mean, so the input is read but changes nothing. For
 * evaluations with an exact expected result: a model that outputs the ground truth, or a known
 * transform of it. Only runs at height × width (give the manifest that fixed size).
 */
export function buildConstantDepthModel(values: Float32Array, height: number, width: number): Buffer {
  if (values.length !== height * width) throw new Error(`${values.length} values for ${height}×${width}`);
  return encodeModel({
    name: 'constant-depth',
    node: [
      node('ReduceMean', ['pixel_values'], ['mean'], [ints('axes', [1]), int('keepdims', 0)]),
      node('Mul', ['mean', 'zero'], ['nothing']),
      node('Add', ['nothing', 'answer'], ['predicted_depth']),
    ],
    initializer: [
      { name: 'zero', dataType: FLOAT, dims: [], floatData: [0] },
      {
        name: 'answer',
        dataType: FLOAT,
        dims: [1, height, width],
        rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      },
    ],
    input: [valueInfo('pixel_values', [1, 3, height, width])],
    output: [valueInfo('predicted_depth', [1, height, width])],
  });
}
