import type { TestProject } from 'vitest/node';
import { startEmbeddedDatabase } from '../../src/dev/embedded-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoServerUri: string;
  }
}

/** One MongoDB-wire server for the whole run; every test file uses its own database on it. */
export default async function setup(project: TestProject) {
  const db = await startEmbeddedDatabase();
  console.log(`tests use ${db.kind} at ${db.uri}`);
  project.provide('mongoServerUri', db.uri);
  return () => db.stop();
}
