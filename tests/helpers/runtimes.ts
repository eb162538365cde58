/** This Deno's runtime stamp and one older and one newer than it, for the runtime-stamp tests. */
import { currentRuntime, type StoreRuntime } from "../../kv/runtime_stamp.ts";

export const mine = currentRuntime();
export const older: StoreRuntime = {
  deno: "2.5.6",
  serializer: (mine.serializer ?? 16) - 1,
  by: "server",
};
export const newer: StoreRuntime = {
  deno: "9.0.0",
  serializer: (mine.serializer ?? 16) + 1,
  by: "server",
};
