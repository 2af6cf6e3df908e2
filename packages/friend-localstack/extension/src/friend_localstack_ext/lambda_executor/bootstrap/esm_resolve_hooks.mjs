/**
 * Module resolution hooks (module.register) that give ES-module handlers the NODE_PATH folders.
 *
 * Node's ESM resolver ignores NODE_PATH, but Lambda functions expect the runtime's AWS SDK v3
 * clients to be importable from anywhere. A bare specifier that the normal resolution cannot
 * find is resolved again as if it were imported from inside each NODE_PATH folder, with the
 * ESM conditions ("import") intact, so packages resolve to their ES builds where they have one.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parents = [];

export async function initialize(data) {
  parents = (data?.nodePath ?? []).map(
    (dir) => pathToFileURL(path.join(dir, '__node_path__.mjs')).href,
  );
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not in this folder: try the next one
      }
    }
    throw error;
  }
}
