// Every WGSL source of the package, as named parts (the name is the file's path under shaders/). Kernels are
// composed from these on the host (src/core/compose.ts); the build inlines them as text.
import type { WgslPart } from './compose.js';
import loadProjected from '../../shaders/nn/load_projected.wgsl?raw';
import finishState from '../../shaders/ops/attention/finish_state.wgsl?raw';
import loadTokens from '../../shaders/ops/attention/load_tokens.wgsl?raw';
import lseCombine from '../../shaders/ops/attention/lse_combine.wgsl?raw';
import outputsF32 from '../../shaders/ops/attention/outputs_f32.wgsl?raw';
import outputsVec4 from '../../shaders/ops/attention/outputs_vec4.wgsl?raw';
import storeOutputs from '../../shaders/ops/attention/store_outputs.wgsl?raw';
import valuesF32 from '../../shaders/ops/attention/values_f32.wgsl?raw';
import valuesVec4 from '../../shaders/ops/attention/values_vec4.wgsl?raw';
import columnSum from '../../shaders/ops/elementwise/column_sum.wgsl?raw';
import geluBackward from '../../shaders/ops/elementwise/gelu_backward.wgsl?raw';
import gelu from '../../shaders/ops/matmul/gelu.wgsl?raw';
import matmul from '../../shaders/ops/matmul/matmul.wgsl?raw';
import matmulBlocked from '../../shaders/ops/matmul/matmul_blocked.wgsl?raw';
import matmulLoadCols from '../../shaders/ops/matmul/matmul_load_cols.wgsl?raw';
import matmulLoadHeads from '../../shaders/ops/matmul/matmul_load_heads.wgsl?raw';
import matmulLoadRows from '../../shaders/ops/matmul/matmul_load_rows.wgsl?raw';
import matmulOutput from '../../shaders/ops/matmul/matmul_output.wgsl?raw';
import matmulParams from '../../shaders/ops/matmul/matmul_params.wgsl?raw';
import matmulTileACols from '../../shaders/ops/matmul/matmul_tile_a_cols.wgsl?raw';
import matmulTileARows from '../../shaders/ops/matmul/matmul_tile_a_rows.wgsl?raw';
import matmulTileAScalar from '../../shaders/ops/matmul/matmul_tile_a_scalar.wgsl?raw';
import matmulTileBCols from '../../shaders/ops/matmul/matmul_tile_b_cols.wgsl?raw';
import matmulTileBRows from '../../shaders/ops/matmul/matmul_tile_b_rows.wgsl?raw';
import matmulTileBScalar from '../../shaders/ops/matmul/matmul_tile_b_scalar.wgsl?raw';
import matmulWeightCols from '../../shaders/ops/matmul/matmul_weight_cols.wgsl?raw';
import matmulWeightRows from '../../shaders/ops/matmul/matmul_weight_rows.wgsl?raw';
import matvec from '../../shaders/ops/matmul/matvec.wgsl?raw';
import layerNorm from '../../shaders/ops/norm/layer_norm.wgsl?raw';
import layerNormBackward from '../../shaders/ops/norm/layer_norm_backward.wgsl?raw';
import layerNormBackwardIo from '../../shaders/ops/norm/layer_norm_backward_io.wgsl?raw';
import layerNormIo from '../../shaders/ops/norm/layer_norm_io.wgsl?raw';
import layerNormParamGrads from '../../shaders/ops/norm/layer_norm_param_grads.wgsl?raw';
import layerNormRows from '../../shaders/ops/norm/layer_norm_rows.wgsl?raw';
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
  columnSum: part('ops/elementwise/column_sum', columnSum),
  geluBackward: part('ops/elementwise/gelu_backward', geluBackward),
  gelu: part('ops/matmul/gelu', gelu),
  matmul: part('ops/matmul/matmul', matmul),
  matmulBlocked: part('ops/matmul/matmul_blocked', matmulBlocked),
  matmulLoadCols: part('ops/matmul/matmul_load_cols', matmulLoadCols),
  matmulLoadHeads: part('ops/matmul/matmul_load_heads', matmulLoadHeads),
  matmulLoadRows: part('ops/matmul/matmul_load_rows', matmulLoadRows),
  matmulOutput: part('ops/matmul/matmul_output', matmulOutput),
  matmulParams: part('ops/matmul/matmul_params', matmulParams),
  matmulTileACols: part('ops/matmul/matmul_tile_a_cols', matmulTileACols),
  matmulTileARows: part('ops/matmul/matmul_tile_a_rows', matmulTileARows),
  matmulTileAScalar: part('ops/matmul/matmul_tile_a_scalar', matmulTileAScalar),
  matmulTileBCols: part('ops/matmul/matmul_tile_b_cols', matmulTileBCols),
  matmulTileBRows: part('ops/matmul/matmul_tile_b_rows', matmulTileBRows),
  matmulTileBScalar: part('ops/matmul/matmul_tile_b_scalar', matmulTileBScalar),
  matmulWeightCols: part('ops/matmul/matmul_weight_cols', matmulWeightCols),
  matmulWeightRows: part('ops/matmul/matmul_weight_rows', matmulWeightRows),
  matvec: part('ops/matmul/matvec', matvec),
  layerNorm: part('ops/norm/layer_norm', layerNorm),
  layerNormBackward: part('ops/norm/layer_norm_backward', layerNormBackward),
  layerNormBackwardIo: part('ops/norm/layer_norm_backward_io', layerNormBackwardIo),
  layerNormIo: part('ops/norm/layer_norm_io', layerNormIo),
  layerNormParamGrads: part('ops/norm/layer_norm_param_grads', layerNormParamGrads),
  layerNormRows: part('ops/norm/layer_norm_rows', layerNormRows),
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
