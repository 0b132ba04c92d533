#!/usr/bin/env node
import { createRequire as __memdeltaCreateRequire } from 'node:module'; const require = __memdeltaCreateRequire(import.meta.url);

// src/cli.ts
console.error("memdelta: not implemented yet");
process.exitCode = 2;
//# sourceMappingURL=cli.js.map
