#!/usr/bin/env node
// The installed `protocam` command runs the compiled CLI (npm start and npm run build create dist/).
import('../dist/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('protocam: not built yet; run `npm run build` (or use `npm run protocam -- <command>`).');
    process.exit(1);
  }
  throw error;
});
