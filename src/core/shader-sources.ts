// Every WGSL source of the package, as named parts (the name is the file's path under shaders/). Kernels are
// composed from these on the host (src/core/compose.ts); the build inlines them as text.
import type { WgslPart } from './compose.js';
import gradCarry from '../../shaders/ops/attention/grad_carry.wgsl?raw';
import gradEndParams from '../../shaders/ops/attention/grad_end_params.wgsl?raw';
import gradFinish from '../../shaders/ops/attention/grad_finish.wgsl?raw';
import loadGrad from '../../shaders/ops/attention/load_grad.wgsl?raw';
import lseBackward from '../../shaders/ops/attention/lse_backward.wgsl?raw';
import rowsF32 from '../../shaders/ops/attention/rows_f32.wgsl?raw';
import rowsVec4 from '../../shaders/ops/attention/rows_vec4.wgsl?raw';
import scoreGradDirect from '../../shaders/ops/attention/score_grad_direct.wgsl?raw';
import scoreGradPartial from '../../shaders/ops/attention/score_grad_partial.wgsl?raw';
import storeGrads from '../../shaders/ops/attention/store_grads.wgsl?raw';
import storeStats from '../../shaders/ops/attention/store_stats.wgsl?raw';
import sumPartials from '../../shaders/ops/attention/sum_partials.wgsl?raw';
import statsRead from '../../shaders/ops/attention/stats_read.wgsl?raw';
import loadProjected from '../../shaders/nn/load_projected.wgsl?raw';
import finishState from '../../shaders/ops/attention/finish_state.wgsl?raw';
import loadTokens from '../../shaders/ops/attention/load_tokens.wgsl?raw';
import lseCombine from '../../shaders/ops/attention/lse_combine.wgsl?raw';
import outputsF32 from '../../shaders/ops/attention/outputs_f32.wgsl?raw';
import outputsVec4 from '../../shaders/ops/attention/outputs_vec4.wgsl?raw';
import storeOutputs from '../../shaders/ops/attention/store_outputs.wgsl?raw';
import valuesF32 from '../../shaders/ops/attention/values_f32.wgsl?raw';
import valuesVec4 from '../../shaders/ops/attention/values_vec4.wgsl?raw';
import gelu from '../../shaders/ops/matmul/gelu.wgsl?raw';
import matmul from '../../shaders/ops/matmul/matmul.wgsl?raw';
import matmulLoadHeads from '../../shaders/ops/matmul/matmul_load_heads.wgsl?raw';
import matmulLoadRows from '../../shaders/ops/matmul/matmul_load_rows.wgsl?raw';
import matmulOutput from '../../shaders/ops/matmul/matmul_output.wgsl?raw';
import matmulParams from '../../shaders/ops/matmul/matmul_params.wgsl?raw';
import matvec from '../../shaders/ops/matmul/matvec.wgsl?raw';
import layerNorm from '../../shaders/ops/norm/layer_norm.wgsl?raw';
import chunkReduce from '../../shaders/scan/chunk_reduce.wgsl?raw';
import chunkScan from '../../shaders/scan/chunk_scan.wgsl?raw';
import loadStates from '../../shaders/scan/load_states.wgsl?raw';
import recurrentScan from '../../shaders/scan/recurrent_scan.wgsl?raw';
import scanParams from '../../shaders/scan/scan_params.wgsl?raw';
import stateLayout from '../../shaders/scan/state_layout.wgsl?raw';
import stateLoad from '../../shaders/scan/state_load.wgsl?raw';
import stateStore from '../../shaders/scan/state_store.wgsl?raw';
import storeStates from '../../shaders/scan/store_states.wgsl?raw';
import workgroupReduce from '../../shaders/scan/workgroup_reduce.wgsl?raw';
import workgroupScan from '../../shaders/scan/workgroup_scan.wgsl?raw';

const part = (name: string, code: string): WgslPart => ({ name, code });

export const wgsl = {
  loadProjected: part('nn/load_projected', loadProjected),
  finishState: part('ops/attention/finish_state', finishState),
  loadTokens: part('ops/attention/load_tokens', loadTokens),
  lseCombine: part('ops/attention/lse_combine', lseCombine),
  outputsF32: part('ops/attention/outputs_f32', outputsF32),
  outputsVec4: part('ops/attention/outputs_vec4', outputsVec4),
  storeOutputs: part('ops/attention/store_outputs', storeOutputs),
  valuesF32: part('ops/attention/values_f32', valuesF32),
  valuesVec4: part('ops/attention/values_vec4', valuesVec4),
  gradCarry: part('ops/attention/grad_carry', gradCarry),
  gradEndParams: part('ops/attention/grad_end_params', gradEndParams),
  gradFinish: part('ops/attention/grad_finish', gradFinish),
  loadGrad: part('ops/attention/load_grad', loadGrad),
  lseBackward: part('ops/attention/lse_backward', lseBackward),
  rowsF32: part('ops/attention/rows_f32', rowsF32),
  rowsVec4: part('ops/attention/rows_vec4', rowsVec4),
  scoreGradDirect: part('ops/attention/score_grad_direct', scoreGradDirect),
  scoreGradPartial: part('ops/attention/score_grad_partial', scoreGradPartial),
  storeGrads: part('ops/attention/store_grads', storeGrads),
  storeStats: part('ops/attention/store_stats', storeStats),
  sumPartials: part('ops/attention/sum_partials', sumPartials),
  statsRead: part('ops/attention/stats_read', statsRead),
  gelu: part('ops/matmul/gelu', gelu),
  matmul: part('ops/matmul/matmul', matmul),
  matmulLoadHeads: part('ops/matmul/matmul_load_heads', matmulLoadHeads),
  matmulLoadRows: part('ops/matmul/matmul_load_rows', matmulLoadRows),
  matmulOutput: part('ops/matmul/matmul_output', matmulOutput),
  matmulParams: part('ops/matmul/matmul_params', matmulParams),
  matvec: part('ops/matmul/matvec', matvec),
  layerNorm: part('ops/norm/layer_norm', layerNorm),
  chunkReduce: part('scan/chunk_reduce', chunkReduce),
  chunkScan: part('scan/chunk_scan', chunkScan),
  loadStates: part('scan/load_states', loadStates),
  recurrentScan: part('scan/recurrent_scan', recurrentScan),
  scanParams: part('scan/scan_params', scanParams),
  stateLayout: part('scan/state_layout', stateLayout),
  stateLoad: part('scan/state_load', stateLoad),
  stateStore: part('scan/state_store', stateStore),
  storeStates: part('scan/store_states', storeStates),
  workgroupReduce: part('scan/workgroup_reduce', workgroupReduce),
  workgroupScan: part('scan/workgroup_scan', workgroupScan),
} as const;
