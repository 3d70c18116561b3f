// Node's side of the training checkpoints (harness/train/checkpoint.ts): DIR/checkpoint.safetensors, written
// atomically (a temporary file in the same folder, flushed, then renamed over the old one), so a crash mid-write
// leaves the last good checkpoint in place.
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** Writes `bytes` to `file` through `file.tmp-PID` and a rename (atomic on POSIX file systems). */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function writeCheckpointFile(dir: string, bytes: Uint8Array): Promise<void> {
  return writeFileAtomic(path.join(dir, CHECKPOINT_FILE), bytes);
}

/** DIR/checkpoint.safetensors, or an error naming the file. */
export async function readCheckpointFile(dir: string): Promise<Uint8Array> {
  const file = path.join(dir, CHECKPOINT_FILE);
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw new Error(`--resume: cannot read ${file} (${(error as Error).message})`);
  }
}
