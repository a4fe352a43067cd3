/// <reference types="vite/client" />
// The real Convex functions, run by convex-test's in-memory backend.
import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import schema from "./schema";

const modules = import.meta.glob("./**/!(*.*.*)*.*s");
const now = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, "0")}Z`;
const asset = (kind: string, key: string) => ({
  kind, key, sha256: "ab".repeat(32), bytes: 10, contentType: "video/mp4", bucket: "b", versionId: "v1",
});
const task = {
  taskId: "t1", kind: "generate" as const, projectId: "p", sessionId: "s", videoKey: "p.s",
  status: "queued" as const, progress: 0, message: "queued", totalSteps: 6,
  createdAt: now(0), updatedAt: now(0),
};

describe("tasks", () => {
  test("upsert is idempotent and a finished task never reopens", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.tasks.upsert, task);
    await t.mutation(api.tasks.upsert, task);
    await t.mutation(api.tasks.upsert, { ...task, status: "completed", progress: 100, updatedAt: now(5) });
    await t.mutation(api.tasks.upsert, { ...task, status: "progress", progress: 50, updatedAt: now(6) });
    const got = await t.query(api.tasks.status, { taskId: "t1" });
    expect(got?.status).toBe("completed");
    expect(got?.progress).toBe(100);
  });

  test("a late replay of an older state does not win", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.tasks.upsert, { ...task, status: "progress", progress: 60, updatedAt: now(9) });
    await t.mutation(api.tasks.upsert, { ...task, status: "progress", progress: 20, updatedAt: now(3) });
    expect((await t.query(api.tasks.status, { taskId: "t1" }))?.progress).toBe(60);
  });

  test("validators reject bad statuses", async () => {
    const t = convexTest(schema, modules);
    await expect(t.mutation(api.tasks.upsert, { ...task, status: "done" as any })).rejects.toThrow();
  });
});

describe("scenes", () => {
  const version = (v: number, extra = {}) => ({
    videoKey: "p.s", sceneNumber: 2, sceneId: "s_scene_2", title: "T", version: v,
    editedBy: "pipeline" as const, duration: 4.5, assets: [asset("video", `k/v${v}/scene.mp4`)],
    createdAt: now(v), ...extra,
  });

  test("versions append, replays are no-ops, and the video shows current assets", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.videos.upsert, {
      videoKey: "p.s", projectId: "p", sessionId: "s", prompt: "x", sceneCount: 2, status: "progress",
      planVersion: 1, combinedVersion: 0, updatedAt: now(0),
    });
    await t.mutation(api.scenes.recordVersion, version(1));
    await t.mutation(api.scenes.recordVersion, version(1));
    await t.mutation(api.scenes.recordVersion, version(2, { editedBy: "edit", editPrompt: "make it blue", expectedVersion: 1 }));
    const history = await t.query(api.scenes.history, { videoKey: "p.s", sceneNumber: 2 });
    expect(history.map((h) => [h.version, h.fromVersion, h.editPrompt])).toEqual([
      [1, undefined, undefined],
      [2, 1, "make it blue"],
    ]);
    const video = await t.query(api.videos.get, { videoKey: "p.s" });
    expect(video?.scenes[0].version).toBe(2);
    expect(video?.scenes[0].assets[0].key).toBe("k/v2/scene.mp4");
    expect((await t.query(api.scenes.bySceneId, { sceneId: "s_scene_2" }))?.version).toBe(2);
  });

  test("of two edits from the same version only one wins", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.scenes.recordVersion, version(1));
    await t.mutation(api.scenes.recordVersion, version(2, { editedBy: "edit", expectedVersion: 1 }));
    await expect(
      t.mutation(api.scenes.recordVersion, version(3, { editedBy: "edit", expectedVersion: 1 })),
    ).rejects.toThrow(/VERSION_CONFLICT/);
  });

  test("versions only go up", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.scenes.recordVersion, version(3));
    await expect(t.mutation(api.scenes.recordVersion, version(2))).rejects.toThrow(/VERSION_NOT_NEWER/);
  });

  test("an in-place edit replaces the version's assets and completes the scene again", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.scenes.recordVersion, version(1));
    await t.mutation(api.scenes.setStatus, {
      videoKey: "p.s", sceneNumber: 2, sceneId: "s_scene_2", title: "T", status: "rendering", updatedAt: now(20),
    });
    const replaced = {
      videoKey: "p.s", sceneNumber: 2, version: 1, duration: 5, assets: [asset("video", "k/v1/r1/scene.mp4")],
      replacedAt: now(30),
    };
    await t.mutation(api.scenes.replaceVersion, replaced);
    await t.mutation(api.scenes.replaceVersion, { ...replaced, assets: [asset("video", "old")], replacedAt: now(25) });
    const history = await t.query(api.scenes.history, { videoKey: "p.s", sceneNumber: 2 });
    expect(history.map((h) => [h.version, h.duration, h.assets[0].key, h.replacedAt])).toEqual([
      [1, 5, "k/v1/r1/scene.mp4", now(30)],
    ]);
    const scene = await t.query(api.scenes.bySceneId, { sceneId: "s_scene_2" });
    expect([scene?.version, scene?.status, scene?.duration]).toEqual([1, "completed", 5]);
    await expect(t.mutation(api.scenes.replaceVersion, { ...replaced, version: 7 })).rejects.toThrow(
      /VERSION_NOT_FOUND/,
    );
  });

  test("edits are recorded once each, oldest first", async () => {
    const t = convexTest(schema, modules);
    const edit = {
      videoKey: "p.s", sceneNumber: 2, fromVersion: 1, toVersion: 2, editPrompt: "make it blue",
      model: "offline-editor", applied: ["colour"], taskId: "e1", createdAt: now(40),
    };
    await t.mutation(api.scenes.recordEdit, edit);
    await t.mutation(api.scenes.recordEdit, edit);
    await t.mutation(api.scenes.recordEdit, { ...edit, fromVersion: 2, taskId: "e2", createdAt: now(41) });
    const edits = await t.query(api.scenes.edits, { videoKey: "p.s", sceneNumber: 2 });
    expect(edits.map((e) => [e.fromVersion, e.toVersion, e.taskId])).toEqual([
      [1, 2, "e1"],
      [2, 2, "e2"],
    ]);
  });
});

describe("videos", () => {
  const video = {
    videoKey: "p.s", projectId: "p", sessionId: "s", prompt: "x", sceneCount: 2, status: "progress",
    planVersion: 1, combinedVersion: 0, updatedAt: now(0),
  };
  const usage = (calls: number) => ({
    calls, promptTokens: 10 * calls, completionTokens: calls, totalTokens: 11 * calls, costUsd: 0.01 * calls,
  });

  test("LLM usage is mirrored and only goes up", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(api.videos.upsert, { ...video, llmUsage: usage(3) });
    await t.mutation(api.videos.upsert, { ...video, llmUsage: usage(1) });
    expect((await t.query(api.videos.get, { videoKey: "p.s" }))?.llmUsage?.calls).toBe(3);
    await t.mutation(api.videos.upsert, { ...video, llmUsage: usage(5) });
    expect((await t.query(api.videos.get, { videoKey: "p.s" }))?.llmUsage?.totalTokens).toBe(55);
  });
});

describe("removing a video", () => {
  test("remove deletes the video, its scenes, versions, edits and tasks, and nothing else", async () => {
    const t = convexTest(schema, modules);
    for (const videoKey of ["p.s", "p.other"]) {
      await t.mutation(api.videos.upsert, {
        videoKey, projectId: "p", sessionId: videoKey.slice(2), prompt: "x", sceneCount: 1, status: "completed",
        planVersion: 1, combinedVersion: 1, updatedAt: now(0),
      });
      await t.mutation(api.tasks.upsert, { ...task, taskId: `t-${videoKey}`, videoKey });
      await t.mutation(api.scenes.recordVersion, {
        videoKey, sceneNumber: 1, sceneId: `${videoKey}_scene_1`, title: "T", version: 1,
        editedBy: "pipeline", duration: 4, assets: [asset("video", `${videoKey}/v1/scene.mp4`)], createdAt: now(1),
      });
      await t.mutation(api.scenes.recordEdit, {
        videoKey, sceneNumber: 1, fromVersion: 1, toVersion: 1, editPrompt: "make it blue",
        model: "offline-editor", applied: ["colour"], createdAt: now(2),
      });
    }
    const removed = await t.mutation(api.videos.remove, { videoKey: "p.s" });
    expect(removed).toEqual({ videos: 1, tasks: 1, scenes: 1, sceneVersions: 1, sceneEdits: 1 });
    expect(await t.query(api.videos.get, { videoKey: "p.s" })).toBeNull();
    expect(await t.query(api.tasks.status, { taskId: "t-p.s" })).toBeNull();
    expect(await t.query(api.scenes.history, { videoKey: "p.s", sceneNumber: 1 })).toEqual([]);
    expect(await t.query(api.scenes.edits, { videoKey: "p.s", sceneNumber: 1 })).toEqual([]);
    // A replay removes nothing more; the other video is untouched.
    expect(await t.mutation(api.videos.remove, { videoKey: "p.s" })).toEqual({
      videos: 0, tasks: 0, scenes: 0, sceneVersions: 0, sceneEdits: 0,
    });
    expect((await t.query(api.videos.get, { videoKey: "p.other" }))?.scenes.length).toBe(1);
    expect(await t.query(api.tasks.status, { taskId: "t-p.other" })).not.toBeNull();
  });
});
