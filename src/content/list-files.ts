import { readdir } from 'node:fs/promises';

/** Names of files in `folder` matching `pattern`, sorted; none when the folder does not exist. */
export async function listFiles(folder: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((f) => pattern.test(f)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
