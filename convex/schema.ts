// The metadata mirror of videogen_dagster: tasks, videos, scenes, their version history and assets.
// The pipeline writes through the functions in this folder (deploy key); apps read with the
// public queries (videos.get, tasks.status).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export const taskStatus = v.union(
  v.literal("queued"),
  v.literal("progress"),
  v.literal("completed"),
  v.literal("failed"),
  v.literal("cancelled"),
);

export const sceneStatus = v.union(
  v.literal("queued"),
  v.literal("rendering"),
  v.literal("completed"),
  v.literal("failed"),
);

// An object in the store: never a presigned URL (they expire), always where it is.
export const assetRef = v.object({
  kind: v.string(), // source | video | thumbnail | subtitles | combined | subtitles_vtt | manifest | plan
  bucket: v.optional(v.string()),
  key: v.string(),
  versionId: v.optional(v.string()),
  sha256: v.string(),
  bytes: v.number(),
  contentType: v.string(),
});

// One record's fields, shared by the table and the upsert mutation's argument validator.
export const taskFields = {
  taskId: v.string(),
  kind: v.union(v.literal("generate"), v.literal("edit")),
  projectId: v.string(),
  sessionId: v.string(),
  sceneId: v.optional(v.string()),
  videoKey: v.string(),
  status: taskStatus,
  progress: v.number(),
  message: v.string(),
  currentStep: v.optional(v.string()),
  totalSteps: v.number(),
  error: v.optional(v.string()),
  createdAt: v.string(),
  updatedAt: v.string(),
  completedAt: v.optional(v.string()),
};

// A video's LLM use so far, summed over its steps (the pipeline's budget counts the same).
export const llmUsage = v.object({
  calls: v.number(),
  promptTokens: v.number(),
  completionTokens: v.number(),
  totalTokens: v.number(),
  costUsd: v.number(),
});

export const videoFields = {
  videoKey: v.string(),
  projectId: v.string(),
  sessionId: v.string(),
  prompt: v.string(),
  sceneCount: v.number(),
  status: v.string(),
  planVersion: v.number(),
  combinedVersion: v.number(),
  totalDuration: v.optional(v.number()),
  combined: v.optional(v.array(assetRef)),
  llmUsage: v.optional(llmUsage),
  updatedAt: v.string(),
};

// One edit of a scene: what was asked, by which model, what the editor applied. An in-place
// edit (version_increment: false) has fromVersion === toVersion.
export const editFields = {
  videoKey: v.string(),
  sceneNumber: v.number(),
  fromVersion: v.number(),
  toVersion: v.number(),
  editPrompt: v.string(),
  model: v.string(),
  applied: v.array(v.string()),
  taskId: v.optional(v.string()),
  createdAt: v.string(),
};

export default defineSchema({
  tasks: defineTable(taskFields)
    .index("by_taskId", ["taskId"])
    .index("by_video", ["videoKey", "createdAt"])
    .index("by_project", ["projectId", "createdAt"]),

  videos: defineTable(videoFields)
    .index("by_videoKey", ["videoKey"])
    .index("by_project", ["projectId"]),

  scenes: defineTable({
    videoKey: v.string(),
    sceneNumber: v.number(),
    sceneId: v.string(),
    title: v.string(),
    status: sceneStatus,
    version: v.number(),
    duration: v.optional(v.number()),
    error: v.optional(v.string()),
    updatedAt: v.string(),
  })
    .index("by_video_number", ["videoKey", "sceneNumber"])
    .index("by_sceneId", ["sceneId"]),

  // Append-only: one row per version of a scene, with who or what made it. An in-place edit
  // replaces a version's assets (new keys beside the old ones) and sets replacedAt.
  sceneVersions: defineTable({
    videoKey: v.string(),
    sceneNumber: v.number(),
    version: v.number(),
    fromVersion: v.optional(v.number()),
    editedBy: v.union(v.literal("pipeline"), v.literal("edit")),
    editPrompt: v.optional(v.string()),
    taskId: v.optional(v.string()),
    duration: v.number(),
    assets: v.array(assetRef),
    createdAt: v.string(),
    replacedAt: v.optional(v.string()),
  }).index("by_scene_version", ["videoKey", "sceneNumber", "version"]),

  // Append-only: every edit of a scene, oldest first.
  sceneEdits: defineTable(editFields).index("by_scene", ["videoKey", "sceneNumber", "createdAt"]),
});
