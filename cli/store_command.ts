/**
 * The CLI lines to paste (README, Commands): kept in core/store_command.ts, where the ops
 * alerts' lines are made too.
 */
export {
  adminCliLine,
  adminCommand,
  denoTask,
  shellWord,
  taskOnStore,
} from "../core/store_command.ts";
