'use strict';
/**
 * Node.js runtime bootstrap: the part of the Lambda Node.js runtime inside the function process.
 *
 * Started by the subprocess executor with the host `node`, it speaks the public Lambda Runtime
 * API (AWS_LAMBDA_RUNTIME_API) like AWS's runtime interface client: it loads the handler once
 * (CommonJS or ES module), then loops over /invocation/next, calls the handler (async or
 * callback style) and posts its result or error. Console output is formatted as AWS formats it.
 *
 * What differs from AWS, and why:
 * - The AWS SDK v3 clients come from NODE_PATH (pinned by the project's npm lockfile). ES modules
 *   ignore NODE_PATH, so a resolve hook (esm_resolve_hooks.mjs) gives them the same folders.
 * - CDK's custom resource handlers send their CloudFormation response with
 *   https.request({hostname, path}), i.e. TLS on port 443, whatever port the ResponseURL names.
 *   Requests to LocalStack's host on port 443 are sent to LocalStack's own port instead (it
 *   serves TLS there too) with its self-signed certificate accepted. Other hosts are untouched.
 * - After each invocation a marker (a per-environment secret) is written to stdout so that the
 *   executor cuts the captured output into per-invocation logs exactly.
 * - A watchdog thread kills the process group when the LocalStack process that started it is
 *   gone; it runs in a worker thread so that a busy handler cannot starve it.
 */

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const nodeModule = require('node:module');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');

const marker = process.env._FRIEND_LAMBDA_LOG_MARKER || '';
const parentPid = Number(process.env._FRIEND_LAMBDA_PARENT_PID || 0);
delete process.env._FRIEND_LAMBDA_LOG_MARKER;
delete process.env._FRIEND_LAMBDA_PARENT_PID;

const API_PREFIX = '/2018-06-01/runtime';
const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const apiAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId = '';

function watchParent() {
  if (!parentPid) return;
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => {
       if (process.ppid !== workerData.parentPid) process.kill(-workerData.pgid, 'SIGKILL');
     }, 200);`,
    { eval: true, workerData: { parentPid, pgid: process.pid } },
  );
  watchdog.unref();
}

function patchConsole() {
  const write = (level) => (...args) => {
    const message = util.format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${message}\n`);
  };
  console.log = write('INFO');
  console.info = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.debug = write('DEBUG');
  console.trace = write('TRACE');
}

function localStackTarget() {
  const hosts = new Set(['127.0.0.1', 'localhost', 'localhost.localstack.cloud']);
  let port = Number(process.env.EDGE_PORT || 4566);
  if (process.env.LOCALSTACK_HOSTNAME) hosts.add(process.env.LOCALSTACK_HOSTNAME);
  if (process.env.AWS_ENDPOINT_URL) {
    const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
    hosts.add(endpoint.hostname);
    if (endpoint.port) port = Number(endpoint.port);
  }
  return { hosts, port };
}

/** Route https calls meant for port 443 of LocalStack's host to LocalStack's own port. */
function redirectHttpsToLocalStack() {
  const { hosts, port } = localStackTarget();
  const rewrite = (args) => {
    let [first, second, third] = args;
    let options;
    let callback;
    if (typeof first === 'string' || first instanceof URL) {
      const url = new URL(first);
      const base = {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
      };
      if (typeof second === 'function') {
        options = base;
        callback = second;
      } else {
        options = { ...base, ...(second || {}) };
        callback = third;
      }
    } else {
      options = { ...(first || {}) };
      callback = second;
    }
    const host = options.hostname || options.host;
    const targetPort = options.port ? Number(options.port) : 443;
    if (!hosts.has(host) || targetPort !== 443) return args;
    options.hostname = host;
    delete options.host;
    options.port = port;
    options.rejectUnauthorized = false;
    return callback ? [options, callback] : [options];
  };
  const originalRequest = https.request;
  const originalGet = https.get;
  https.request = function request(...args) {
    return originalRequest.apply(this, rewrite(args));
  };
  https.get = function get(...args) {
    return originalGet.apply(this, rewrite(args));
  };
  nodeModule.syncBuiltinESMExports();
}

function registerEsmResolution() {
  const nodePath = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  if (typeof nodeModule.register !== 'function' || nodePath.length === 0) return;
  nodeModule.register('./esm_resolve_hooks.mjs', pathToFileURL(__filename), {
    data: { nodePath },
  });
}

function callApi(method, apiPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: apiHost,
        port: apiPort,
        path: `${API_PREFIX}${apiPath}`,
        method,
        agent: apiAgent,
        headers: body ? { 'Content-Type': 'application/json', ...headers } : headers,
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on('error', reject);
      },
    );
    request.setNoDelay(true);
    request.on('error', reject);
    request.end(body);
  });
}

class InitError extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.errorType = errorType;
    if (cause && cause.stack) this.stack = cause.stack;
  }
}

function errorBody(error, errorType) {
  if (error instanceof Error) {
    return {
      errorType: errorType || error.errorType || error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack || '').split('\n').filter((line) => !line.includes(__filename)),
    };
  }
  return { errorType: errorType || typeof error, errorMessage: String(error), trace: [] };
}

function isEsmFile(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

async function loadHandler(taskRoot, handlerString) {
  const slash = handlerString.lastIndexOf('/');
  const moduleRoot = handlerString.slice(0, slash + 1);
  const rest = handlerString.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) {
    throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const moduleName = rest.slice(0, dot);
  const handlerPath = rest.slice(dot + 1);
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw new InitError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${moduleRoot}${moduleName}'`,
    );
  }
  let loaded;
  try {
    loaded = isEsmFile(file) ? await import(pathToFileURL(file).href) : require(file);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new InitError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, error);
    }
    if (error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new InitError('Runtime.ImportModuleError', `Error: ${error.message}`, error);
    }
    throw error;
  }
  let handler = loaded;
  for (const part of handlerPath.split('.')) handler = handler == null ? undefined : handler[part];
  if (typeof handler !== 'function') {
    throw new InitError(
      'Runtime.HandlerNotFound',
      `${moduleRoot}${moduleName}.${handlerPath} is undefined or not exported`,
    );
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
  return context;
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error != null ? reject(error) : resolve(result));
    context.done = callback;
    context.succeed = (result) => resolve(result);
    context.fail = (error) => reject(error == null ? new Error('handled') : error);
    const returned = handler(event, context, callback);
    if (returned && typeof returned.then === 'function') returned.then(resolve, reject);
    else if (handler.length < 3) resolve(returned);
  });
}

function endOfOutput(label) {
  fs.writeSync(1, `${marker}${label}${marker}`);
}

async function main() {
  watchParent();
  patchConsole();
  redirectHttpsToLocalStack();
  registerEsmResolution();
  process.chdir(process.env.LAMBDA_TASK_ROOT);

  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT, process.env._HANDLER);
  } catch (error) {
    const body = errorBody(error, error instanceof InitError ? error.errorType : undefined);
    console.error('INIT_ERROR', JSON.stringify(body));
    await callApi('POST', '/init/error', JSON.stringify(body), {
      'Lambda-Runtime-Function-Error-Type': body.errorType,
    });
    process.exit(1);
  }
  endOfOutput('init');

  const failCurrent = (error, errorType) => {
    const body = errorBody(error, errorType);
    console.error('Invoke Error', JSON.stringify(body));
    process.exit(1);
  };
  process.on('uncaughtException', (error) => failCurrent(error));
  process.on('unhandledRejection', (reason) =>
    failCurrent(reason, 'Runtime.UnhandledPromiseRejection'),
  );

  for (;;) {
    const next = await callApi('GET', '/invocation/next');
    const context = makeContext(next.headers);
    currentRequestId = context.awsRequestId;
    if (next.headers['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    let outcome;
    try {
      const event = next.body.length ? JSON.parse(next.body.toString('utf8')) : {};
      const result = await runHandler(handler, event, context);
      outcome = ['response', JSON.stringify(result === undefined ? null : result), undefined];
    } catch (error) {
      const body = errorBody(error);
      console.error('Invoke Error', JSON.stringify(body));
      outcome = ['error', JSON.stringify(body), `Unhandled.${body.errorType}`];
    }
    endOfOutput(currentRequestId);
    const [kind, body, errorType] = outcome;
    await callApi(
      'POST',
      `/invocation/${context.awsRequestId}/${kind}`,
      body,
      errorType ? { 'Lambda-Runtime-Function-Error-Type': errorType } : {},
    );
  }
}

main().catch((error) => {
  // The Runtime API is gone, so is the LocalStack that served it: take down anything the
  // function started too (the process group), not just this process.
  process.stderr.write(`Runtime failure: ${error && error.stack ? error.stack : error}\n`);
  process.kill(-process.pid, 'SIGKILL');
});
