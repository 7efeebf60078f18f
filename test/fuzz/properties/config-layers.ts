// A generated settings plan spread over every layer loadSettings reads (release file, /usr/share,
// /etc/flatcar or /etc/coreos, two --config files, LOCKSMITHD_* and UPDATE_ENGINE_* variables),
// written to a temp sysroot, with the winner of each key: the value and source loadSettings must report.

import fc from 'fast-check';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { systemConfigPaths, type ConfigPaths, type ValueSource } from '../../../src/config/load.ts';
import { fillerLineArb, formatEntry, lineStyleArb, slotPairArb, VALID_SETTING_ARBS, type LineStyle, type ValidSetting } from './config-generators.ts';

/** Layers from lowest to highest precedence. */
const LAYERS = ['release', 'usrShare', 'etc', 'config0', 'config1', 'envLocksmithd', 'env'] as const;
type Layer = (typeof LAYERS)[number];

interface Placement {
  layer: Layer;
  setting: ValidSetting;
  style: LineStyle;
  filler: string | null;
}

export interface Winner {
  setting: ValidSetting;
  /** Where loadSettings must say the value came from. */
  source: ValueSource;
}

export interface LayeredPlan {
  placements: Placement[];
  /** The etc layer is /etc/coreos/update.conf (and /etc/flatcar absent) instead of /etc/flatcar. */
  etcIsCoreos: boolean;
  winners: Winner[];
}

/** SERVER and APP_ID come only from the operator's layers: a vendor file's value is ignored (docs/nebraska.md). */
const OPERATOR_ONLY = new Set(['SERVER', 'APP_ID']);

const layerArb = (key: string): fc.Arbitrary<Layer> =>
  key.startsWith('LOCKSMITHD_')
    ? fc.constantFrom(...LAYERS)
    : fc.constantFrom(...LAYERS.filter((l) => l !== 'envLocksmithd' && !(OPERATOR_ONLY.has(key) && (l === 'release' || l === 'usrShare'))));

const placementsArb = (settingArb: fc.Arbitrary<ValidSetting>, maxLength: number): fc.Arbitrary<Placement[]> =>
  fc.array(
    settingArb.chain((setting) =>
      fc.record({ layer: layerArb(setting.key), setting: fc.constant(setting), style: lineStyleArb, filler: fc.option(fillerLineArb) }),
    ),
    { minLength: 1, maxLength },
  );

function fileOf(layer: Layer, paths: ConfigPaths, configFiles: string[], etcIsCoreos: boolean): string {
  switch (layer) {
    case 'release':
      return paths.releaseFile;
    case 'usrShare':
      return paths.usrShareConf;
    case 'etc':
      return etcIsCoreos ? paths.etcCoreosConf : paths.etcConf;
    case 'config0':
      return configFiles[0] as string;
    default:
      return configFiles[1] as string;
  }
}

/** A plan over a random subset of the typed keys (each placed 1-3 times), sometimes with the slot pair. */
export const layeredSettingsArb: fc.Arbitrary<LayeredPlan> = fc
  .record({
    perKey: fc.tuple(...VALID_SETTING_ARBS.map((arb) => fc.option(placementsArb(arb, 3), { freq: 2 }))),
    slots: fc.option(fc.tuple(slotPairArb, fc.constantFrom(...LAYERS.filter((l) => l !== 'envLocksmithd')), lineStyleArb)),
    etcIsCoreos: fc.boolean(),
  })
  .map(({ perKey, slots, etcIsCoreos }) => {
    const placements: Placement[] = perKey.flatMap((p) => p ?? []);
    if (slots) for (const setting of slots[0]) placements.push({ layer: slots[1], setting, style: slots[2], filler: null });
    return { placements, etcIsCoreos, winners: [] };
  });

/** Writes the plan's files under `root` (plus a decoy /etc/coreos file that must be ignored) and fills in the winners. */
export async function writeLayers(root: string, plan: LayeredPlan): Promise<{ paths: ConfigPaths; configFiles: string[]; env: NodeJS.ProcessEnv }> {
  const paths = systemConfigPaths(root);
  const configFiles = [join(root, 'extra', 'first.conf'), join(root, 'extra', 'second.conf')];
  const lines = new Map<string, string[]>();
  const env: NodeJS.ProcessEnv = {};
  const last = new Map<string, { rank: number; source: ValueSource; setting: ValidSetting }>();
  for (const layer of ['release', 'usrShare', 'etc', 'config0', 'config1'] as const) lines.set(fileOf(layer, paths, configFiles, plan.etcIsCoreos), []);
  for (const p of plan.placements) {
    let source: ValueSource;
    if (p.layer === 'env' || p.layer === 'envLocksmithd') {
      const name = p.layer === 'env' ? `UPDATE_ENGINE_${p.setting.key}` : p.setting.key;
      env[name] = p.setting.text;
      source = { kind: 'env', name };
    } else {
      const file = fileOf(p.layer, paths, configFiles, plan.etcIsCoreos);
      const fileLines = lines.get(file) as string[];
      if (p.filler !== null) fileLines.push(p.filler);
      fileLines.push(formatEntry(p.setting.key, p.setting.text, p.style));
      source = { kind: 'file', file, line: fileLines.length, name: p.setting.key };
    }
    const rank = LAYERS.indexOf(p.layer);
    const previous = last.get(p.setting.key);
    if (!previous || previous.rank <= rank) last.set(p.setting.key, { rank, source, setting: p.setting });
  }
  if (!plan.etcIsCoreos)
    lines.set(paths.etcCoreosConf, VALID_SETTING_ARBS.map((_, i) => `# decoy ${i}`).concat(['GROUP=decoy-group', 'IO_WRITE_BPS=not-a-size']));
  for (const [file, text] of lines) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text.join('\n'));
  }
  plan.winners = [...last.values()].map(({ setting, source }) => ({ setting, source }));
  return { paths, configFiles, env };
}
