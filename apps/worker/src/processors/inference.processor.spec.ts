import type { InferenceJobData } from '@fathom/contracts';
import { artifactName } from './inference.processor';

describe('artifactName', () => {
  const data = (filename?: string) => ({ jobId: 'j1', model: { name: 'm', version: '1', task: 'depth' }, input: { filename } }) as InferenceJobData;

  it('names the download after the upload and the task', () => {
    expect(artifactName(data('holiday photo.jpg'))).toBe('holiday photo.depth.png');
    expect(artifactName(data('../../etc/passwd'))).toBe('passwd.depth.png');
    expect(artifactName(data(undefined))).toBe('j1.depth.png');
  });
});
