// Every WGSL source of the package, as text. Kernels are composed from these on the host (src/compose.ts).
import lseCombine from '../shaders/lse_combine.wgsl?raw';
import stateLayout from '../shaders/state_layout.wgsl?raw';
import stateLoad from '../shaders/state_load.wgsl?raw';
import stateStore from '../shaders/state_store.wgsl?raw';
import scanParams from '../shaders/scan_params.wgsl?raw';
import loadTokens from '../shaders/load_tokens.wgsl?raw';
import valuesF32 from '../shaders/values_f32.wgsl?raw';
import valuesVec4 from '../shaders/values_vec4.wgsl?raw';
import outputsF32 from '../shaders/outputs_f32.wgsl?raw';
import outputsVec4 from '../shaders/outputs_vec4.wgsl?raw';
import loadStates from '../shaders/load_states.wgsl?raw';
import storeOutputs from '../shaders/store_outputs.wgsl?raw';
import storeStates from '../shaders/store_states.wgsl?raw';
import workgroupScan from '../shaders/workgroup_scan.wgsl?raw';
import workgroupReduce from '../shaders/workgroup_reduce.wgsl?raw';
import chunkScan from '../shaders/chunk_scan.wgsl?raw';
import chunkReduce from '../shaders/chunk_reduce.wgsl?raw';
import finishState from '../shaders/finish_state.wgsl?raw';
import loadProjected from '../shaders/load_projected.wgsl?raw';
import matmul from '../shaders/matmul.wgsl?raw';
import matvec from '../shaders/matvec.wgsl?raw';
import matmulOutput from '../shaders/matmul_output.wgsl?raw';
import matmulParams from '../shaders/matmul_params.wgsl?raw';
import matmulLoadRows from '../shaders/matmul_load_rows.wgsl?raw';
import matmulLoadHeads from '../shaders/matmul_load_heads.wgsl?raw';
import gelu from '../shaders/gelu.wgsl?raw';
import layerNorm from '../shaders/layer_norm.wgsl?raw';
import blockedRecurrentScan from '../shaders/blocked_recurrent_scan.wgsl?raw';

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
