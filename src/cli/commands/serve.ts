// update-engine serve (../shared/CLI.md): a small Omaha server for development, tests and the demo.
// First stdout line: "listening http://HOST:PORT/v1/update/"; runs until SIGINT/SIGTERM.

import { appendFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { UpdateEngineError } from '../../errors.ts';
import { loadDevPayloads } from '../../omaha/dev-payload-loader.ts';
import { startDevServer, type RecordedEvent } from '../../omaha/dev-server.ts';
import { createLogger } from '../../platform/logger.ts';
import { parseCommandLine, println, usageError, type Command } from '../run.ts';

const HELP = `Usage: update-engine serve --payload FILE [--payload FILE]... [--host 127.0.0.1] [--port 0]
                           [--track NAME] [--events FILE]

A small Omaha server for development, tests and the demo. Fleets should use a real
Omaha server such as Nebraska (https://github.com/flatcar/nebraska).

It answers update checks (POST /v1/update/) for any appid in Nebraska's format: the
newest payload whose version is greater than the client's, else noupdate. Payloads
are served at /payloads/N/NAME with HTTP Range support.

Options:
  --payload FILE  a payload made by 'update-engine payload create' (repeatable)
  --host HOST     address to listen on (default 127.0.0.1: loopback only)
  --port PORT     port to listen on (default 0: any free port)
  --track NAME    offer payloads only to clients on this track (GROUP); default any
  --events FILE   append one JSON line per received event:
                  {"machineid","version","eventtype","eventresult","errorcode","previousversion"}
  -h, --help      show this help

The first line on stdout is "listening http://HOST:PORT/v1/update/". Request logs go to
stderr. Stop it with SIGINT or SIGTERM.`;

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw usageError(`--port "${text}" is not a port number (0-65535)`);
  return Number(text);
}

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    payload: { type: 'string', multiple: true },
    host: { type: 'string' },
    port: { type: 'string' },
    track: { type: 'string' },
    events: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const paths = values.payload ?? [];
  if (paths.length === 0) throw usageError('serve needs at least one --payload FILE');
  const port = parsePort(values.port);
  const host = (values.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  if (host.trim() === '') throw usageError('--host must not be empty');
  if (values.track !== undefined && values.track.trim() === '') throw usageError('--track must not be empty');
  const payloads = await loadDevPayloads(paths);

  const eventsFile = values.events;
  if (eventsFile !== undefined) {
    try {
      await appendFile(eventsFile, '');
    } catch (e) {
      throw new UpdateEngineError('ERR_USAGE', `Cannot write the events file "${eventsFile}": ${(e as Error).message}`, { cause: e });
    }
  }
  const logger = createLogger({ name: 'serve', destination: ctx.stderr, pretty: false, level: ctx.env.UPDATE_ENGINE_LOG_LEVEL === 'debug' ? 'debug' : 'info' });
  // One append at a time, in arrival order; each finishes before the answer goes out.
  let appending: Promise<void> = Promise.resolve();
  const onEvent = (event: RecordedEvent): Promise<void> => {
    if (eventsFile === undefined) return Promise.resolve();
    appending = appending
      .then(() => appendFile(eventsFile, `${JSON.stringify(event)}\n`))
      .catch((e: unknown) => logger.error({ err: e, file: eventsFile }, 'Cannot record the event'));
    return appending;
  };
  const server = await startDevServer({ payloads, host, port, track: values.track, onEvent, logger });
  println(ctx.stdout, `listening ${server.updateUrl}`);
  if (!isLoopback(host)) logger.warn({ host }, 'Listening beyond loopback: anyone who can reach this address can fetch the payloads and send events');
  for (const p of payloads)
    logger.info({ version: p.version, sizeBytes: p.sizeBytes, url: `${server.url}/payloads/${p.index}/${p.fileName}` }, 'Serving payload');

  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.close();
  await appending;
  return 0;
};
