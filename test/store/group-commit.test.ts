import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/group-commit.js';

describe('a group commit', () => {
  it('writes what callers add meanwhile together, outside any caller\'s async context', async () => {
    const als = new AsyncLocalStorage<string>();
    const writes: Array<{ items: number[]; context: string | undefined }> = [];
    const gc = new GroupCommit<number>(async (items) => {
      writes.push({ items, context: als.getStore() });
    });
    await Promise.all([1, 2, 3].map((n) => als.run(`caller ${n}`, () => gc.add(n))));
    expect(writes).toEqual([{ items: [1, 2, 3], context: undefined }]);
    // A full batch is written at once, still in no caller's context.
    const small = new GroupCommit<number>(async (items) => void writes.push({ items, context: als.getStore() }), 2);
    await Promise.all([4, 5].map((n) => als.run(`caller ${n}`, () => small.add(n))));
    expect(writes[1]).toEqual({ items: [4, 5], context: undefined });
  });
});
