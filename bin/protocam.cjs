#!/usr/bin/env node
// The installed `protocam` command: runs the compiled CLI (npm start and npm run build create dist/).
//
// CommonJS on purpose. libuv sizes its thread pool once, when the pool first starts, and Node's
// ES module loader starts it while loading the first module, so no ES module can size it in
// time. Every asynchronous file operation shares that pool: the recorder's seals (read, fsync),
// export hashing and the sweeper's unlinks. With the default 4 threads a catch-up sweep keeps all
// of them in unlink (about 2 ms each on a file system mounted with `discard`) and the recorder's
// seals queue behind it; 16 threads also raised the unlink rate here from about 9,000 to
// 12,000 files/s (issue 6). An operator's own UV_THREADPOOL_SIZE wins.
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';

import('../dist/cli/main.js').then(
  (cli) => cli.runAsProcess(),
  (error) => {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('protocam: not built yet; run `npm run build` (or use `npm run protocam -- <command>`).');
      process.exit(1);
    }
    throw error;
  },
);
