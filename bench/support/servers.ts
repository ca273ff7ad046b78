import { buildPath, startNode, type NodeChild } from './children.js';

export interface RunningServer {
  readonly url: string;
  readonly child: NodeChild;
  /** The JSON of its ready line. */
  readonly ready: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Starts servers/http-server.js for `variantId` and waits for its ready line. */
export async function startHttpServer(
  variantId: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  timeoutMs = 120_000,
): Promise<RunningServer> {
  const child = await startNode(buildPath('servers/http-server.js'), {
    env: { ...env, BENCH_VARIANT: variantId, NODE_ENV: 'production' },
    nodeArgs,
    label: `server ${variantId}`,
    server: true,
    timeoutMs,
  });
  const port = Number(child.ready['port']);
  return { url: `http://127.0.0.1:${port}`, child, ready: child.ready, stop: () => child.stop() };
}
