// Redraws img/bench-peers.svg from bench/out/peers.json (and the engine's 4 GiB run in
// bench/out/peers-4g.json when present), both written by bench/peers/run.ts, and prints the targets:
// node bin/run-ts.js bench/peers/draw.ts [JSON] [SVG]

import { readFile, writeFile } from 'node:fs/promises';
import { drawPeersPlot, LARGE_OUT, peersTargets, readOptionalBench, type PeersBench } from './plot.ts';

const [jsonPath = 'bench/out/peers.json', svgPath = 'img/bench-peers.svg'] = process.argv.slice(2);
const bench = JSON.parse(await readFile(jsonPath, 'utf8')) as PeersBench;
const large = await readOptionalBench(LARGE_OUT);
for (const line of peersTargets(bench, large)) process.stdout.write(`${line}\n`);
await writeFile(svgPath, drawPeersPlot(bench, large));
process.stdout.write(`wrote ${svgPath}\n`);
