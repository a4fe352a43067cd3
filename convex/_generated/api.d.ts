/* Written to match `npx convex codegen` output. */
import type { ApiFromModules, FilterApi, FunctionReference } from "convex/server";
import type * as scenes from "../scenes.js";
import type * as tasks from "../tasks.js";
import type * as videos from "../videos.js";

declare const fullApi: ApiFromModules<{
  scenes: typeof scenes;
  tasks: typeof tasks;
  videos: typeof videos;
}>;
export declare const api: FilterApi<typeof fullApi, FunctionReference<any, "public">>;
export declare const internal: FilterApi<typeof fullApi, FunctionReference<any, "internal">>;
