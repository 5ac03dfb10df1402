import { modelManifestSchema, specsFromManifest, type ModelSpec } from '@fathom/models';
import { checkTensorNames, checkWarmUpOutput } from './manifest.checks';

function spec(manifest: object): ModelSpec {
  return specsFromManifest(modelManifestSchema.parse({ name: 'm', version: '1', weights: 'm.onnx', ...manifest }), {
    manifestFile: '/models/m.model.yaml',
    cacheDir: '/tmp',
  })[0]!;
}

describe('the warm-up checks a manifest against its model', () => {
  it('names the manifest and the field when a tensor it names is not in the model', () => {
    const depth = spec({ task: 'depth', input: { name: 'pixel_values' }, output: { name: 'predicted_depth' } });
    expect(() => checkTensorNames(depth, { inputNames: ['images'], outputNames: ['predicted_depth'] })).toThrow(
      '/models/m.model.yaml: input.name: "pixel_values" is not an input of this model (inputs: images)',
    );
    expect(() => checkTensorNames(depth, { inputNames: ['pixel_values'], outputNames: ['depth'] })).toThrow(
      /\/models\/m\.model\.yaml: output\.name: "predicted_depth" is not an output of this model \(outputs: depth\)/,
    );
    expect(() => checkTensorNames(depth, { inputNames: ['pixel_values'], outputNames: ['predicted_depth'] })).not.toThrow();
  });

  it('wants a label for every class the model answers', () => {
    const classifier = spec({ task: 'classification', labels: ['cat', 'dog'] });
    expect(() => checkWarmUpOutput(classifier, { input: [1, 3, 224, 224], output: [1, 3] })).toThrow(
      '/models/m.model.yaml: labels: 2 names for a model with 3 classes',
    );
    expect(() => checkWarmUpOutput(classifier, { input: [1, 3, 224, 224], output: [1, 2] })).not.toThrow();
  });
});
