import { ConvexError, v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { taskFields } from "./schema";

const FINAL = new Set(["completed", "cancelled"]);

/** Upsert a task by its id with its full state. Replays are harmless; a finished task never reopens. */
export const upsert = mutation({
  args: taskFields,
  handler: async (ctx, args) => {
    if (args.progress < 0 || args.progress > 100) {
      throw new ConvexError({ code: "INVALID_PROGRESS", progress: args.progress });
    }
    const existing = await ctx.db
      .query("tasks")
      .withIndex("by_taskId", (q) => q.eq("taskId", args.taskId))
      .unique();
    if (existing === null) {
      return await ctx.db.insert("tasks", args);
    }
    if (FINAL.has(existing.status) && existing.status !== args.status) {
      return existing._id;
    }
    if (existing.updatedAt > args.updatedAt) {
      return existing._id; // an older state replayed late
    }
    await ctx.db.replace(existing._id, args);
    return existing._id;
  },
});

/** A task's status, as the REST API's status endpoint shows it. */
export const status = query({
  args: { taskId: v.string() },
  handler: async (ctx, { taskId }) => {
    return await ctx.db
      .query("tasks")
      .withIndex("by_taskId", (q) => q.eq("taskId", taskId))
      .unique();
  },
});
