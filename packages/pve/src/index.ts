export { PROTOCOL_VERSION, type HelloParams, type HelloResult, type LogParams, type RpcError, type RpcNotification, type RpcRequest, type RpcResponse, type ServerRole } from './protocol/messages.js';
export { generatePerlModules, type GenerateOptions, type GeneratedFile, type GeneratedModules } from './generate/generate.js';
export { installPerlModules, uninstallPerlModules, DEFAULT_PERL_DIR } from './generate/install.js';
export { moduleNames, BRIDGE_RUNTIME_FILE, type ModuleNames } from './generate/module-names.js';
export { pvePackageRoot, sourcesTsconfig, defaultServer } from './generate/package-files.js';
export type { BridgeConfig } from './generate/bridge-config.js';
export { loadPlugin, type ModuleRef } from './server/load-plugin.js';
export { describeConfigSchema, type ConfigProperty } from './translate/config-schema.js';
export { configFromScfg } from './translate/scfg.js';
