#!/usr/bin/env node
import { runNbdCli } from './cli/index.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
process.exitCode = await runNbdCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
