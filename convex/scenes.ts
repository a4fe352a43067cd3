import { ConvexError, v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { assetRef, editFields, sceneStatus } from "./schema";

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
    const already = await findVersion(ctx, args.videoKey, args.sceneNumber, args.version);
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

async function findVersion(ctx: any, videoKey: string, sceneNumber: number, version: number) {
  return await ctx.db
    .query("sceneVersions")
    .withIndex("by_scene_version", (q: any) =>
      q.eq("videoKey", videoKey).eq("sceneNumber", sceneNumber).eq("version", version),
    )
    .unique();
}

/**
 * An in-place edit (version_increment: false): the version keeps its number, its assets are
 * replaced, and the scene (when that version is still its current one) is completed again.
 * Idempotent; an older replacement replayed late does not win.
 */
export const replaceVersion = mutation({
  args: {
    videoKey: v.string(),
    sceneNumber: v.number(),
    version: v.number(),
    duration: v.number(),
    assets: v.array(assetRef),
    replacedAt: v.string(),
  },
  handler: async (ctx, args) => {
    const row = await findVersion(ctx, args.videoKey, args.sceneNumber, args.version);
    if (row === null) {
      throw new ConvexError({ code: "VERSION_NOT_FOUND", sceneNumber: args.sceneNumber, version: args.version });
    }
    if (row.replacedAt !== undefined && row.replacedAt > args.replacedAt) return row._id;
    await ctx.db.patch(row._id, { assets: args.assets, duration: args.duration, replacedAt: args.replacedAt });
    const scene = await findScene(ctx, args.videoKey, args.sceneNumber);
    if (scene !== null && scene.version === args.version && scene.updatedAt <= args.replacedAt) {
      await ctx.db.patch(scene._id, {
        status: "completed" as const,
        duration: args.duration,
        error: undefined,
        updatedAt: args.replacedAt,
      });
    }
    return row._id;
  },
});

/** Record one edit of a scene. Idempotent: the same edit replayed is a no-op. */
export const recordEdit = mutation({
  args: editFields,
  handler: async (ctx, args) => {
    const sameTime = await ctx.db
      .query("sceneEdits")
      .withIndex("by_scene", (q) =>
        q.eq("videoKey", args.videoKey).eq("sceneNumber", args.sceneNumber).eq("createdAt", args.createdAt),
      )
      .collect();
    const replay = sameTime.find(
      (e) =>
        e.fromVersion === args.fromVersion &&
        e.toVersion === args.toVersion &&
        e.editPrompt === args.editPrompt &&
        e.taskId === args.taskId,
    );
    return replay?._id ?? (await ctx.db.insert("sceneEdits", args));
  },
});

/** Every edit of a scene, oldest first. */
export const edits = query({
  args: { videoKey: v.string(), sceneNumber: v.number() },
  handler: async (ctx, { videoKey, sceneNumber }) => {
    return await ctx.db
      .query("sceneEdits")
      .withIndex("by_scene", (q) => q.eq("videoKey", videoKey).eq("sceneNumber", sceneNumber))
      .collect();
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
