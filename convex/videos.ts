import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { videoFields } from "./schema";

/** Upsert a video by its key with its full state. */
export const upsert = mutation({
  args: videoFields,
  handler: async (ctx, args) => {
    const existing = await ctx.db
      .query("videos")
      .withIndex("by_videoKey", (q) => q.eq("videoKey", args.videoKey))
      .unique();
    if (existing === null) {
      return await ctx.db.insert("videos", args);
    }
    // Versions and LLM usage only go up, even when an older state is replayed late.
    const calls = (u?: { calls: number }) => u?.calls ?? 0;
    await ctx.db.replace(existing._id, {
      ...args,
      planVersion: Math.max(existing.planVersion, args.planVersion),
      combinedVersion: Math.max(existing.combinedVersion, args.combinedVersion),
      combined: args.combinedVersion >= existing.combinedVersion ? args.combined : existing.combined,
      llmUsage: calls(args.llmUsage) >= calls(existing.llmUsage) ? args.llmUsage : existing.llmUsage,
    });
    return existing._id;
  },
});

/** A video with its scenes and each scene's current assets: what an app shows. */
export const get = query({
  args: { videoKey: v.string() },
  handler: async (ctx, { videoKey }) => {
    const video = await ctx.db
      .query("videos")
      .withIndex("by_videoKey", (q) => q.eq("videoKey", videoKey))
      .unique();
    if (video === null) return null;
    const scenes = await ctx.db
      .query("scenes")
      .withIndex("by_video_number", (q) => q.eq("videoKey", videoKey))
      .collect();
    const withAssets = await Promise.all(
      scenes.map(async (scene) => {
        const current = await ctx.db
          .query("sceneVersions")
          .withIndex("by_scene_version", (q) =>
            q.eq("videoKey", videoKey).eq("sceneNumber", scene.sceneNumber).eq("version", scene.version),
          )
          .unique();
        return { ...scene, assets: current?.assets ?? [] };
      }),
    );
    return { ...video, scenes: withAssets };
  },
});

/** Every video of a project, newest first. */
export const byProject = query({
  args: { projectId: v.string() },
  handler: async (ctx, { projectId }) => {
    return await ctx.db
      .query("videos")
      .withIndex("by_project", (q) => q.eq("projectId", projectId))
      .order("desc")
      .collect();
  },
});

/**
 * Remove a video and everything recorded about it: its scenes, their version history and edits,
 * and its tasks (in one transaction). Idempotent: removing a video that is not there removes
 * nothing. Returns how many documents of each table were removed.
 */
export const remove = mutation({
  args: { videoKey: v.string() },
  handler: async (ctx, { videoKey }) => {
    const videos = await ctx.db
      .query("videos")
      .withIndex("by_videoKey", (q) => q.eq("videoKey", videoKey))
      .collect();
    const tasks = await ctx.db
      .query("tasks")
      .withIndex("by_video", (q) => q.eq("videoKey", videoKey))
      .collect();
    const scenes = await ctx.db
      .query("scenes")
      .withIndex("by_video_number", (q) => q.eq("videoKey", videoKey))
      .collect();
    const sceneVersions = await ctx.db
      .query("sceneVersions")
      .withIndex("by_scene_version", (q) => q.eq("videoKey", videoKey))
      .collect();
    const sceneEdits = await ctx.db
      .query("sceneEdits")
      .withIndex("by_scene", (q) => q.eq("videoKey", videoKey))
      .collect();
    for (const doc of [...videos, ...tasks, ...scenes, ...sceneVersions, ...sceneEdits]) {
      await ctx.db.delete(doc._id);
    }
    return {
      videos: videos.length,
      tasks: tasks.length,
      scenes: scenes.length,
      sceneVersions: sceneVersions.length,
      sceneEdits: sceneEdits.length,
    };
  },
});
