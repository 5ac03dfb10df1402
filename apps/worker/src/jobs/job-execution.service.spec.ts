import type { InferenceJobData } from '@fathom/contracts';
import { artifactName } from './job-execution.service';

describe('artifactName', () => {
  const data = (filename?: string) => ({ jobId: 'j1', input: { filename } }) as InferenceJobData;

  it('names the download after the upload, the artifact and its type', () => {
    expect(artifactName(data('holiday photo.jpg'), 'depth', 'png')).toBe('holiday photo.depth.png');
    expect(artifactName(data('cat.png'), 'shares', 'json')).toBe('cat.shares.json');
    expect(artifactName(data('../../etc/passwd'), 'mask', 'png')).toBe('passwd.mask.png');
    expect(artifactName(data(undefined), 'depth', 'png')).toBe('j1.depth.png');
  });
});
