import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { AuditLogStore, createDatabase, DatasetStore, migrateToLatest, type Database } from '@fathom/database';
import { BUILTIN_DATASETS, folderFiles, loadDataset, readTruth } from '@fathom/evaluation';
import { FilesystemBlobStore } from '@fathom/storage';
import { createTestDatabase, type TestDatabase } from '@fathom/testing';
import type { ApiConfig } from '../config/api.config';
import { DatasetsService } from './datasets.service';

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
    return { code: 'no error', message: '' };
  } catch (error) {
    return error instanceof FathomError ? { code: error.code, message: error.message } : { code: String(error), message: '' };
  }
}

/**
 * Built-in datasets through DatasetsService with the real PostgreSQL and a folder object store:
 * what an evaluation gets when it names one (registered the first time, once however many ask),
 * and its files read back from the store as libs/evaluation reads a dataset.
 */
describe('DatasetsService: built-in datasets, registered on first use', () => {
  let database: TestDatabase;
  let db: Database;
  let blobDir: string;
  let emptyShared: string;
  const config = (shared: string) => ({ API_MAX_DATASET_BYTES: 64 * 1024 * 1024, API_DATASETS_SHARED_DIR: shared }) as ApiConfig;
  const serviceWith = (shared: string) =>
    new DatasetsService(new DatasetStore(db), new FilesystemBlobStore(blobDir, 'fathom'), config(shared));

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());
  beforeEach(async () => {
    await database.reset();
    db = createDatabase({
      url: database.url,
      poolSize: 4,
      statementTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      applicationName: 'fathom-test',
    });
    await migrateToLatest(db);
    blobDir = mkdtempSync(join(tmpdir(), 'fathom-datasets-blobs-'));
    emptyShared = mkdtempSync(join(tmpdir(), 'fathom-no-shared-'));
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(blobDir, { recursive: true, force: true });
    rmSync(emptyShared, { recursive: true, force: true });
  });

  it('registers text-lines the first time it is named, once even when two instances ask at the same moment', async () => {
    const [first, second] = [serviceWith(emptyShared), serviceWith(emptyShared)];
    expect((await first.list()).builtins).toContainEqual(
      expect.objectContaining({ name: 'text-lines', registered: false, unavailable: null }),
    );

    const records = await Promise.all([first.ensure('text-lines'), second.ensure('text-lines'), first.ensure('text-lines')]);
    const builtin = BUILTIN_DATASETS.find((b) => b.name === 'text-lines')!;
    expect(records[0]).toMatchObject({
      name: 'text-lines',
      version: builtin.version,
      task: 'text-detection',
      source: 'builtin',
      createdBy: 'fathom',
    });
    expect(new Set(records.map((r) => r.id)).size).toBe(1);
    expect((await first.ensure(`text-lines@${builtin.version}`)).id).toBe(records[0].id);

    const listed = await first.list();
    expect(listed.datasets.map((d) => `${d.name}@${d.version}`)).toEqual([`text-lines@${builtin.version}`]);
    expect(listed.builtins).toContainEqual(expect.objectContaining({ name: 'text-lines', registered: true }));
    const audit = await new AuditLogStore(db).list(10);
    expect(audit.map((e) => [e.action, e.actor, e.targetId])).toEqual([['dataset.registered', 'fathom', `text-lines@${builtin.version}`]]);
  });

  it("reads a registered dataset's samples and ground truth back from the object store as from the folder it was built in", async () => {
    const service = serviceWith(emptyShared);
    const record = await service.ensure('text-lines');
    const fromStore = service.filesOf(record);
    const stored = await loadDataset(fromStore);
    expect(stored.samples.map((s) => s.id)).toEqual((await service.detail('text-lines')).sampleIds);
    expect(stored.samples).toHaveLength(record.samples);

    const builtDir = mkdtempSync(join(tmpdir(), 'fathom-text-lines-'));
    try {
      await BUILTIN_DATASETS.find((b) => b.name === 'text-lines')!.build(builtDir, {});
      const folder = folderFiles(builtDir);
      const built = await loadDataset(folder);
      const sample = stored.samples[0]!;
      expect(await readTruth('text-detection', sample, fromStore, stored)).toEqual(
        await readTruth('text-detection', built.samples[0]!, folder, built),
      );
      expect(await fromStore.read(sample.image)).toEqual(await folder.read(sample.image));
      expect(await fromStore.list()).toEqual(await folder.list!());
    } finally {
      rmSync(builtDir, { recursive: true, force: true });
    }
    expect(await fromStore.exists('not-there.png')).toBe(false);
    expect((await failureOf(fromStore.read('not-there.png'))).code).toBe(ErrorCode.InvalidDataset);
  });

  it('says what is missing when a built-in cannot be built here, and which datasets there are when a name is unknown', async () => {
    const service = serviceWith(emptyShared);
    const listed = (await service.list()).builtins.find((b) => b.name === 'middlebury-motorcycle');
    expect(listed?.unavailable).toEqual(expect.any(String));

    const missing = await failureOf(service.ensure('middlebury-motorcycle'));
    expect(missing.code).toBe(ErrorCode.DatasetNotFound);
    expect(missing.message).toContain('middlebury-motorcycle');
    expect(missing.message).toContain(listed!.unavailable!);
    expect(missing.message).toContain(emptyShared);

    const unknown = await failureOf(service.ensure('no-such-dataset'));
    expect(unknown.code).toBe(ErrorCode.DatasetNotFound);
    expect(unknown.message).toMatch(/No dataset no-such-dataset is registered.*text-lines/);
    expect((await failureOf(service.ensure('text-lines@0.0.0-never'))).code).toBe(ErrorCode.DatasetNotFound);
    expect(await new DatasetStore(db).list()).toEqual([]);
  });
});
