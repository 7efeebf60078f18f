// Redraws img/bench-delta.svg from bench/out/delta.json (written by bench/delta/run.ts):
// node bin/run-ts.js bench/delta/draw.ts [JSON] [SVG]

import { readFile, writeFile } from 'node:fs/promises';
import { drawDeltaPlot } from './plot.ts';
import { pairRows, type DeltaBench } from './summary.ts';

const [jsonPath = 'bench/out/delta.json', svgPath = 'img/bench-delta.svg'] = process.argv.slice(2);
const bench = JSON.parse(await readFile(jsonPath, 'utf8')) as DeltaBench;
await writeFile(svgPath, drawDeltaPlot(bench, pairRows(bench)));
process.stdout.write(`wrote ${svgPath}\n`);
