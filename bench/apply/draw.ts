// Redraws img/bench-apply.svg from bench/out/apply.json (written by bench/apply/run.ts), e.g. after
// changing the plot: node bin/run-ts.js bench/apply/draw.ts [JSON] [SVG]

import { readFile, writeFile } from 'node:fs/promises';
import { drawApplyPlot } from './plot.ts';
import { summarize, type BenchResults } from './summary.ts';

const [jsonPath = 'bench/out/apply.json', svgPath = 'img/bench-apply.svg'] = process.argv.slice(2);
const bench = JSON.parse(await readFile(jsonPath, 'utf8')) as BenchResults;
await writeFile(svgPath, drawApplyPlot(summarize(bench), bench));
process.stdout.write(`wrote ${svgPath}\n`);
