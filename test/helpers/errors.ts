// Awaits a promise that must reject with an UpdateEngineError and returns that error (anything else fails the test).

import { UpdateEngineError } from '../../src/errors.ts';

export async function failure(p: Promise<unknown>): Promise<UpdateEngineError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof UpdateEngineError) return e;
    throw e;
  }
  throw new Error('expected an UpdateEngineError');
}
