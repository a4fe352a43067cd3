// A local stand-in for a Convex deployment's HTTP function API, running this folder's real
// functions on convex-test's in-memory backend. Used by the Python tests (no Convex backend can
// run on these machines). Reproduces the documented wire contract:
//   POST /api/query | /api/mutation | /api/action   {"path": "module:function", "args": {...}, "format": "json"}
//   POST /api/run/<module>/<function>               {"args": {...}, "format": "json"}
//   200 {"status": "success", "value": ..., "logLines": []}
//   function errors in-band: 200 {"status": "error", "errorMessage": ..., "errorData"?: ...}
//   request errors: {"code", "message"} with 400 (bad JSON), 401 (bad deploy key), 404, 503
// Test controls: POST /_test/outage {"on": bool}, GET /_test/dump (every table), POST /_test/reset.
import { createServer, IncomingMessage, ServerResponse } from "node:http";
import { convexTest } from "convex-test";
import { anyApi } from "convex/server";
import { ConvexError } from "convex/values";
import schema from "./schema";

const modules: Record<string, () => Promise<any>> = {
  "./_generated/api.js": () => import("./_generated/api.js"),
  "./_generated/server.js": () => import("./_generated/server.js"),
  "./schema.ts": () => import("./schema"),
  "./tasks.ts": () => import("./tasks"),
  "./videos.ts": () => import("./videos"),
  "./scenes.ts": () => import("./scenes"),
};
const TABLES = ["tasks", "videos", "scenes", "sceneVersions", "sceneEdits"];
const deployKey = process.env.CONVEX_DEPLOY_KEY ?? "local-test-key";
let backend = convexTest(schema, modules);
let outage = false;

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function call(kind: string, path: string, args: unknown) {
  const [module, fn] = path.replace(/\.js$/, "").split(":");
  const ref = (anyApi as any)[module]?.[fn ?? "default"];
  if (kind === "query") return await backend.query(ref, args as any);
  if (kind === "mutation") return await backend.mutation(ref, args as any);
  return await backend.action(ref, args as any);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  const raw = await readBody(req);
  if (url.pathname === "/_test/outage") {
    outage = Boolean(JSON.parse(raw || "{}").on);
    return send(res, 200, { outage });
  }
  if (url.pathname === "/_test/reset") {
    backend = convexTest(schema, modules);
    return send(res, 200, { reset: true });
  }
  if (url.pathname === "/_test/dump") {
    const dump = await backend.run(async (ctx: any) => {
      const out: Record<string, unknown[]> = {};
      for (const table of TABLES) out[table] = await ctx.db.query(table).collect();
      return out;
    });
    return send(res, 200, dump);
  }
  if (outage) return send(res, 503, { code: "ServiceUnavailable", message: "deployment is down (test outage)" });
  if (req.method !== "POST") return send(res, 404, { code: "NotFound", message: `no route ${url.pathname}` });
  const auth = req.headers["authorization"] ?? "";
  if (auth !== `Convex ${deployKey}`) {
    return send(res, 401, { code: "BadDeployKey", message: "The provided deploy key was invalid." });
  }
  let body: any;
  try {
    body = JSON.parse(raw);
  } catch {
    return send(res, 400, { code: "BadJsonBody", message: "request body is not valid JSON" });
  }
  let kind: string | undefined;
  let path: string | undefined;
  const run = url.pathname.match(/^\/api\/run\/([^/]+)\/([^/]+)$/);
  if (run) {
    kind = "auto";
    path = `${run[1]}:${run[2]}`;
  } else {
    const m = url.pathname.match(/^\/api\/(query|mutation|action)$/);
    if (!m) return send(res, 404, { code: "NotFound", message: `no route ${url.pathname}` });
    kind = m[1];
    path = body.path;
  }
  if (typeof path !== "string" || !path.includes(":")) {
    return send(res, 400, { code: "BadRequest", message: "path must look like 'module:function'" });
  }
  try {
    const value =
      kind === "auto"
        ? await call("mutation", path, body.args ?? {}).catch(() => call("query", path!, body.args ?? {}))
        : await call(kind, path, body.args ?? {});
    return send(res, 200, { status: "success", value: value ?? null, logLines: [] });
  } catch (err: any) {
    const data = err instanceof ConvexError ? { errorData: err.data } : {};
    const message = err instanceof ConvexError ? JSON.stringify(err.data) : String(err?.message ?? err);
    return send(res, 200, { status: "error", errorMessage: `[Request ID: local] Server Error\n${message}`, ...data, logLines: [] });
  }
});

const port = Number(process.env.PORT ?? 3210);
server.listen(port, "127.0.0.1", () => console.log(`convex stand-in listening on http://127.0.0.1:${port}`));
