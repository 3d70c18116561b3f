// Every shared correctness suite, in the order the headless-Chrome harness (harness/page.ts) runs them: the scan
// with the Aaren layer and model (cases/scan.ts), then each further suite below. Node runs the same suites from
// their own test files. A new suite is one line in SUITES.
import { runCases, type CaseOptions, type CaseResult } from './scan.js';
import { runScanBackwardCases } from './scan-backward.js';
import { runDenseCases } from './dense.js';
import { runOptimCases } from './optim.js';
import { runModelBackwardCases } from './model-backward.js';
import { runLanguageModelCases } from './language-model.js';
import { runConvCases } from './conv.js';

type Suite = (device: GPUDevice, options: CaseOptions) => Promise<CaseResult[]>;

/** [name, suite, kernel prefix]: every kernel name a suite with a prefix reports starts with it, so a filter that
 * starts with that prefix runs that suite alone (the scan cases above filter themselves). */
const SUITES: [string, Suite, string?][] = [
  ['scan-backward', (device) => runScanBackwardCases(device)],
  ['dense', (device) => runDenseCases(device)],
  ['optim', (device) => runOptimCases(device)],
  ['model-backward', (device) => runModelBackwardCases(device)],
  ['language-model', (device) => runLanguageModelCases(device)],
  ['conv', (device, options) => runConvCases(device, { quick: options.quick }), 'conv'],
];

export async function runAllCases(device: GPUDevice, options: CaseOptions = {}, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results = await runCases(device, options, onResult);
  const wanted = (r: CaseResult) => !options.filter || `${r.kernel} ${r.shape}`.includes(options.filter);
  const only = SUITES.find(([, , prefix]) => prefix !== undefined && options.filter?.startsWith(prefix));
  for (const [name, suite] of SUITES) {
    if (only && only[0] !== name) continue;
    let found: CaseResult[];
    try {
      found = await suite(device, options);
    } catch (error) {
      found = [{ kernel: name, shape: 'suite', maxAbsError: NaN, maxRelError: NaN, tolerance: 0, ms: 0, pass: false, error: String((error as Error)?.stack ?? error) }];
    }
    for (const r of found.filter(wanted)) {
      results.push(r);
      onResult?.(r);
    }
  }
  return results;
}
