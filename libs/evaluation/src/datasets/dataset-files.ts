import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pathProblem } from './dataset-manifest';

/** Where a dataset's files are read from: a folder here, or (in the API) the object store. Paths are relative, "/"-separated. */
export interface DatasetFiles {
  read(path: string): Promise<Buffer>;
  exists(path: string): Promise<boolean>;
  /** Every file's path, when the source can list them. */
  list?(): Promise<string[]>;
}

/** A dataset in a folder; a path that would leave the folder is refused before the disk is touched. */
export function folderFiles(dir: string): DatasetFiles {
  const root = resolve(dir);
  const inside = (path: string): string => {
    const problem = pathProblem(path);
    const full = resolve(root, path);
    if (problem || (full !== root && !full.startsWith(root + sep))) throw new Error(problem ?? `"${path}" leaves the dataset's folder`);
    return full;
  };
  return {
    read: async (path) => readFile(inside(path)),
    exists: async (path) => {
      try {
        return (await stat(inside(path))).isFile();
      } catch {
        return false;
      }
    },
    list: async () => {
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
        .sort();
    },
  };
}
