/**
 * Sizes libuv's thread pool, which runs every asynchronous file operation: segment sealing
 * (read, fsync), export hashing and the sweeper's unlinks share it. With the default 4 threads a
 * catch-up sweep keeps all of them in unlink for seconds (each takes about 2 ms on a file system
 * mounted with `discard`), so the recorder's fsyncs queue behind it; 16 threads also raised the
 * unlink rate here from about 9,000 to 12,000 files/s. libuv reads the variable at the pool's
 * first use, so entry points import this module before anything else. An operator's own
 * setting wins.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';

export {};
