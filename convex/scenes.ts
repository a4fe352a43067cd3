import { ConvexError, v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { assetRef, sceneStatus } from "./schema";

async function findScene(ctx: any, videoKey: string, sceneNumber: number) {
  return await ctx.db
    .query("scenes")
    .withIndex("by_video_number", (q: any) => q.eq("videoKey", videoKey).eq("sceneNumber", sceneNumber))
    .unique();
}

/** Set a scene's status (queued, rendering, completed, failed) without touching its version. */
export const setStatus = mutation({
  args: {
    videoKey: v.string(),
    sceneNumber: v.number(),
    sceneId: v.string(),
    title: v.string(),
    status: sceneStatus,
    error: v.optional(v.string()),
    updatedAt: v.string(),
  },
  handler: async (ctx, args) => {
    const scene = await findScene(ctx, args.videoKey, args.sceneNumber);
    if (scene === null) {
      return await ctx.db.insert("scenes", { ...args, version: 0 });
    }
    if (scene.updatedAt > args.updatedAt) return scene._id;
    await ctx.db.patch(scene._id, {
      status: args.status,
      title: args.title,
      error: args.error,
      updatedAt: args.updatedAt,
    });
    return scene._id;
  },
});

/**
 * Append a version to a scene's history and make it current. Idempotent: recording the same
 * version twice is a no-op. With `expectedVersion`, the scene must still be at that version:
 * of two concurrent edits from the same version, only one wins.
 */
export const recordVersion = mutation({
  args: {
    videoKey: v.string(),
    sceneNumber: v.number(),
    sceneId: v.string(),
    title: v.string(),
    version: v.number(),
    expectedVersion: v.optional(v.number()),
    editedBy: v.union(v.literal("pipeline"), v.literal("edit")),
    editPrompt: v.optional(v.string()),
    taskId: v.optional(v.string()),
    duration: v.number(),
    assets: v.array(assetRef),
    createdAt: v.string(),
  },
  handler: async (ctx, args) => {
    const { expectedVersion, sceneId, title, ...history } = args;
    const already = await ctx.db
      .query("sceneVersions")
      .withIndex("by_scene_version", (q) =>
        q.eq("videoKey", args.videoKey).eq("sceneNumber", args.sceneNumber).eq("version", args.version),
      )
      .unique();
    if (already !== null) return already._id;
    const scene = await findScene(ctx, args.videoKey, args.sceneNumber);
    const current = scene?.version ?? 0;
    if (expectedVersion !== undefined && current !== expectedVersion) {
      throw new ConvexError({ code: "VERSION_CONFLICT", expected: expectedVersion, current });
    }
    if (args.version <= current) {
      throw new ConvexError({ code: "VERSION_NOT_NEWER", version: args.version, current });
    }
    const id = await ctx.db.insert("sceneVersions", { ...history, fromVersion: current || undefined });
    const fields = {
      sceneId,
      title,
      status: "completed" as const,
      version: args.version,
      duration: args.duration,
      error: undefined,
      updatedAt: args.createdAt,
    };
    if (scene === null) {
      await ctx.db.insert("scenes", { videoKey: args.videoKey, sceneNumber: args.sceneNumber, ...fields });
    } else {
      await ctx.db.patch(scene._id, fields);
    }
    return id;
  },
});

/** A scene's current record, by the spec's scene id (`session_123_scene_1`). */
export const bySceneId = query({
  args: { sceneId: v.string() },
  handler: async (ctx, { sceneId }) => {
    return await ctx.db
      .query("scenes")
      .withIndex("by_sceneId", (q) => q.eq("sceneId", sceneId))
      .unique();
  },
});

/** Every version of a scene, oldest first: the edit history. */
export const history = query({
  args: { videoKey: v.string(), sceneNumber: v.number() },
  handler: async (ctx, { videoKey, sceneNumber }) => {
    return await ctx.db
      .query("sceneVersions")
      .withIndex("by_scene_version", (q) => q.eq("videoKey", videoKey).eq("sceneNumber", sceneNumber))
      .collect();
  },
});
