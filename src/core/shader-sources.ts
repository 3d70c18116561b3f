// Every WGSL source of the package, as text. Kernels are composed from these on the host (src/compose.ts).
import lseCombine from '../../shaders/ops/attention/lse_combine.wgsl?raw';
import stateLayout from '../../shaders/ops/attention/state_layout.wgsl?raw';
import stateLoad from '../../shaders/ops/attention/state_load.wgsl?raw';
import stateStore from '../../shaders/ops/attention/state_store.wgsl?raw';
import scanParams from '../../shaders/scan/scan_params.wgsl?raw';
import loadTokens from '../../shaders/ops/attention/load_tokens.wgsl?raw';
import valuesF32 from '../../shaders/ops/attention/values_f32.wgsl?raw';
import valuesVec4 from '../../shaders/ops/attention/values_vec4.wgsl?raw';
import outputsF32 from '../../shaders/ops/attention/outputs_f32.wgsl?raw';
import outputsVec4 from '../../shaders/ops/attention/outputs_vec4.wgsl?raw';
import loadStates from '../../shaders/ops/attention/load_states.wgsl?raw';
import storeOutputs from '../../shaders/ops/attention/store_outputs.wgsl?raw';
import storeStates from '../../shaders/ops/attention/store_states.wgsl?raw';
import workgroupScan from '../../shaders/scan/workgroup_scan.wgsl?raw';
import workgroupReduce from '../../shaders/scan/workgroup_reduce.wgsl?raw';
import chunkScan from '../../shaders/scan/chunk_scan.wgsl?raw';
import chunkReduce from '../../shaders/scan/chunk_reduce.wgsl?raw';
import finishState from '../../shaders/ops/attention/finish_state.wgsl?raw';
import loadProjected from '../../shaders/nn/load_projected.wgsl?raw';
import matmul from '../../shaders/ops/matmul/matmul.wgsl?raw';
import matvec from '../../shaders/ops/matmul/matvec.wgsl?raw';
import matmulOutput from '../../shaders/ops/matmul/matmul_output.wgsl?raw';
import matmulParams from '../../shaders/ops/matmul/matmul_params.wgsl?raw';
import matmulLoadRows from '../../shaders/ops/matmul/matmul_load_rows.wgsl?raw';
import matmulLoadHeads from '../../shaders/ops/matmul/matmul_load_heads.wgsl?raw';
import gelu from '../../shaders/ops/matmul/gelu.wgsl?raw';
import layerNorm from '../../shaders/ops/norm/layer_norm.wgsl?raw';
import blockedRecurrentScan from '../../shaders/scan/blocked_recurrent_scan.wgsl?raw';

export const wgsl = {
  lseCombine,
  stateLayout,
  stateLoad,
  stateStore,
  scanParams,
  loadTokens,
  valuesF32,
  valuesVec4,
  outputsF32,
  outputsVec4,
  loadStates,
  storeOutputs,
  storeStates,
  workgroupScan,
  workgroupReduce,
  chunkScan,
  chunkReduce,
  finishState,
  loadProjected,
  matmul,
  matvec,
  matmulOutput,
  matmulParams,
  matmulLoadRows,
  matmulLoadHeads,
  gelu,
  layerNorm,
  blockedRecurrentScan,
} as const;
