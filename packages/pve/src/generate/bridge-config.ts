/** Where the generated modules find Node, the bridge server and the plugin. */
export interface BridgeConfig {
  /** storage.cfg type. */
  type: string;
  /** The node binary (absolute). */
  node: string;
  /** Arguments before the server script (e.g. `--import tsx` when running from sources). */
  nodeArgs: string[];
  /** The bridge server script (`@bp/pve`'s dist/server.js). */
  server: string;
  /** The plugin module: a package name resolvable from the server, or an absolute file path. */
  module: string;
  exportName: string;
  /** Sockets and logs (`/run/bp-pve`); `BP_PVE_RUN_DIR` overrides it at run time. */
  runDir: string;
  /** Seconds the storage process stays without connections before it exits. */
  idleSeconds: number;
}

/** The Perl hash literal fields of a {@link BridgeConfig}. */
export function perlBridgeConfig(config: BridgeConfig): Record<string, unknown> {
  return {
    type: config.type,
    node: config.node,
    node_args: config.nodeArgs,
    server: config.server,
    module: config.module,
    export: config.exportName,
    run_dir: config.runDir,
    idle_seconds: config.idleSeconds,
  };
}
