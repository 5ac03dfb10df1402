import { createReadStream } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import { DeploymentStore } from '@fathom/database';
import { describeWeightsBytes, readHead } from '@fathom/models';
import { BlobStore } from '@fathom/storage';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

/** A weights file on this instance's disk, with what was counted as it arrived. */
export interface WeightsFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** "weights" or "variant inverted's weights": how a reason names the file it is about. */
export const partName = (part: string): string => (part === '' ? 'weights' : `variant ${part}'s weights`);

/**
 * The checks every weights file gets before it is stored (ADR 0015), and the store: a file is
 * refused when its SHA-256 is not the one the manifest gave, or when it is not a model at all (a
 * Git LFS pointer, an HTML page, an empty or foreign file); a truncated ONNX file passes here and
 * fails at warm-up on the workers. Stored content-addressed (`weightsKey(sha256)`), once.
 */
@Injectable()
export class WeightsStorage {
  constructor(
    @Inject(BlobStore) private readonly blobs: BlobStore,
    @Inject(DeploymentStore) private readonly deployments: DeploymentStore,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /** Why `file` cannot be `part`'s weights, or null. */
  async problem(part: string, file: WeightsFile, expectedSha256?: string): Promise<string | null> {
    if (expectedSha256 !== undefined && expectedSha256 !== file.sha256)
      return `${partName(part)}: sha256 mismatch: expected ${expectedSha256}, got ${file.sha256} for ${file.bytes} bytes`;
    const problem = describeWeightsBytes(await readHead(file.path), file.bytes);
    return problem && `${partName(part)}: ${problem.message}`;
  }

  /** Streams the file into the object store under its SHA-256, unless weights with that digest are stored already. */
  async store(file: WeightsFile): Promise<void> {
    if (await this.deployments.hasStoredWeights(file.sha256)) return;
    await this.blobs.putStream(this.blobs.weightsKey(file.sha256), createReadStream(file.path), {
      maxBytes: Math.max(file.bytes, this.config.API_MAX_WEIGHTS_BYTES),
    });
  }
}
