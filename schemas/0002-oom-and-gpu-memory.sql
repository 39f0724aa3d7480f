-- memtrace trace schema, migration 0002: out-of-memory forensics and
-- CUPTI's own view of device memory.

-- One row per failed allocation: what was asked, what the device said.
CREATE TABLE ooms (
  ts          INTEGER NOT NULL,         -- ns
  device      INTEGER NOT NULL,
  api         INTEGER NOT NULL,         -- enum api (or an allocator: see source)
  source      INTEGER NOT NULL,         -- enum oom_source (driver, allocator)
  requested   INTEGER NOT NULL,         -- bytes asked for
  free_bytes  INTEGER,                  -- device free memory at the failure, when known
  total_bytes INTEGER,
  thread      INTEGER NOT NULL,
  stack       INTEGER NOT NULL
);

-- CUPTI MEMORY2 activity: allocations as the device saw them.
CREATE TABLE gpu_memory (
  ts          INTEGER NOT NULL,         -- ns (GPU timestamp mapped to the trace clock)
  op          INTEGER NOT NULL,         -- enum mem_op
  kind        INTEGER NOT NULL,         -- enum mem_kind
  device      INTEGER NOT NULL,
  stream      INTEGER NOT NULL,
  addr        INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  pool_addr   INTEGER,                  -- mempool base for async allocations
  correlation INTEGER NOT NULL
);
