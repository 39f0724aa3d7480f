-- memtrace trace schema, migration 0001: the core capture tables.
-- One file holds one traced process (one rank).  Times are integer
-- nanoseconds on CLOCK_MONOTONIC, relative to process.start_ns unless a
-- column says otherwise; sizes are bytes; addresses are integers.  Columns
-- that refer to another table end in _id or name it; 0 or NULL means "none".
-- No secondary indexes here: inserts stay cheap during capture, and
-- mt_trace_finalize() builds them once afterwards (see schemas/README.md).

CREATE TABLE process (
  run_id          TEXT    NOT NULL,   -- shared by every process of one job
  rank            INTEGER NOT NULL,   -- global rank, 0 when not distributed
  local_rank      INTEGER NOT NULL,
  world_size      INTEGER NOT NULL,   -- 1 when not distributed
  host            TEXT    NOT NULL,
  pid             INTEGER NOT NULL,
  ppid            INTEGER NOT NULL,
  command_line    TEXT    NOT NULL,   -- argv joined by spaces
  start_ns        INTEGER NOT NULL,   -- CLOCK_MONOTONIC at trace start (absolute)
  wall_offset_ns  INTEGER NOT NULL,   -- CLOCK_REALTIME - CLOCK_MONOTONIC at start
  end_ns          INTEGER,            -- relative; NULL until the trace is closed cleanly
  clock           TEXT    NOT NULL DEFAULT 'monotonic',
  producer        TEXT    NOT NULL,   -- what wrote it: 'memtrace-collector 0.1.0', 'import:kineto'...
  stacks          TEXT    NOT NULL DEFAULT 'none',    -- 'none' | 'native' | 'python' | 'native+python'
  cupti           TEXT    NOT NULL DEFAULT 'unavailable' -- 'active' | 'unavailable' | 'disabled'
);

-- Free-form facts about the run (framework versions, allocator settings...).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT
) WITHOUT ROWID;

-- Interned strings: kernel names, range names, symbols, paths.
CREATE TABLE strings (
  id    INTEGER PRIMARY KEY,          -- >= 1
  value TEXT NOT NULL
);

-- Labels for every enumerated column, so a trace explains itself.
CREATE TABLE enum_labels (
  enum  TEXT    NOT NULL,             -- e.g. 'mem_op', 'api', 'nccl_op'
  value INTEGER NOT NULL,
  label TEXT    NOT NULL,
  PRIMARY KEY (enum, value)
) WITHOUT ROWID;

CREATE TABLE devices (
  id            INTEGER PRIMARY KEY,  -- CUDA ordinal in this process
  name_id       INTEGER NOT NULL,     -- strings.id
  total_bytes   INTEGER NOT NULL,
  cc_major      INTEGER NOT NULL,
  cc_minor      INTEGER NOT NULL,
  uuid          TEXT
);

CREATE TABLE threads (
  id       INTEGER PRIMARY KEY,       -- trace-local thread id (>= 1)
  tid      INTEGER NOT NULL,          -- OS thread id
  name_id  INTEGER                    -- strings.id
);

CREATE TABLE streams (
  id        INTEGER PRIMARY KEY,      -- trace-local; 0 is the legacy default stream
  device    INTEGER NOT NULL,
  handle    INTEGER NOT NULL,         -- cudaStream_t value as seen by the program
  priority  INTEGER NOT NULL DEFAULT 0,
  flags     INTEGER NOT NULL DEFAULT 0,
  created   INTEGER                   -- ns
);

-- Loaded modules, to symbolise frames after the run.
CREATE TABLE modules (
  id       INTEGER PRIMARY KEY,
  path_id  INTEGER NOT NULL,          -- strings.id
  base     INTEGER NOT NULL,          -- load address
  size     INTEGER NOT NULL,          -- bytes mapped
  build_id TEXT
);

-- Call stacks as a trie: a stack id is the id of its innermost frame.
CREATE TABLE frames (
  id        INTEGER PRIMARY KEY,      -- >= 1
  parent    INTEGER NOT NULL,         -- frames.id of the caller, 0 at the outermost
  pc        INTEGER NOT NULL,         -- return address (native) or 0 (python)
  module    INTEGER NOT NULL,         -- modules.id, 0 unknown
  symbol_id INTEGER                   -- strings.id once symbolised (or python "file:line func")
);

-- Device memory API calls: allocations, frees, VMM mappings, host pinned memory.
CREATE TABLE mem_events (
  ts      INTEGER NOT NULL,           -- ns, call entry
  dur     INTEGER NOT NULL,           -- ns spent in the call
  op      INTEGER NOT NULL,           -- enum mem_op
  api     INTEGER NOT NULL,           -- enum api
  kind    INTEGER NOT NULL,           -- enum mem_kind (device, managed, host_pinned, async_pool, vmm)
  device  INTEGER NOT NULL,
  stream  INTEGER NOT NULL,           -- streams.id (async APIs), else 0
  addr    INTEGER NOT NULL,           -- 0 when the call failed
  size    INTEGER NOT NULL,           -- requested bytes; for frees the size of the freed block when known
  thread  INTEGER NOT NULL,           -- threads.id
  stack   INTEGER NOT NULL,           -- frames.id, 0 = not captured
  result  INTEGER NOT NULL,           -- cudaError_t / CUresult; 2 = out of memory
  context INTEGER NOT NULL DEFAULT 0  -- enum alloc_context: which library made the call
);

-- Allocator heaps (NVTX memory API heaps, or a framework's pools).
CREATE TABLE heaps (
  id       INTEGER PRIMARY KEY,       -- >= 1
  handle   INTEGER NOT NULL,          -- nvtxMemHeapHandle_t as seen by the program
  domain_id INTEGER,                  -- strings.id of the NVTX domain
  name_id  INTEGER,                   -- strings.id
  usage    INTEGER NOT NULL,          -- enum heap_usage
  device   INTEGER NOT NULL,
  addr     INTEGER NOT NULL,          -- range it covers, 0 if unbounded
  size     INTEGER NOT NULL,
  created  INTEGER NOT NULL,          -- ns
  destroyed INTEGER                   -- ns
);

-- Sub-allocations (tensors) reported by allocators inside heaps.
CREATE TABLE region_events (
  ts      INTEGER NOT NULL,           -- ns
  op      INTEGER NOT NULL,           -- enum region_op (register, unregister, resize)
  heap    INTEGER NOT NULL,           -- heaps.id
  addr    INTEGER NOT NULL,
  size    INTEGER NOT NULL,           -- bytes; for unregister the registered size
  stream  INTEGER NOT NULL,           -- streams.id
  thread  INTEGER NOT NULL,
  stack   INTEGER NOT NULL,
  label_id INTEGER                    -- strings.id: a name or category annotation, if any
);

-- Kernel launches (API side, plus GPU times from CUPTI when active).  A
-- training loop launches the same few hundred configurations millions of
-- times, so what repeats (name, grid, block, stream, thread, call site) is
-- interned in kernel_configs and a launch row holds only times and an id:
-- about half the bytes per launch.  The view `kernels` joins them back.
CREATE TABLE kernel_configs (
  id        INTEGER PRIMARY KEY,      -- >= 1
  api       INTEGER NOT NULL,         -- enum api
  name_id   INTEGER NOT NULL,         -- strings.id (mangled name or host stub symbol)
  device    INTEGER NOT NULL,
  stream    INTEGER NOT NULL,
  grid_x    INTEGER NOT NULL, grid_y INTEGER NOT NULL, grid_z INTEGER NOT NULL,
  block_x   INTEGER NOT NULL, block_y INTEGER NOT NULL, block_z INTEGER NOT NULL,
  smem      INTEGER NOT NULL,         -- dynamic shared memory bytes
  thread    INTEGER NOT NULL,
  stack     INTEGER NOT NULL
);

CREATE TABLE kernel_launches (
  ts        INTEGER NOT NULL,         -- ns, launch call entry
  dur       INTEGER NOT NULL,         -- ns in the launch call
  config    INTEGER NOT NULL,         -- kernel_configs.id
  correlation INTEGER NOT NULL,       -- CUPTI correlation id, 0 without CUPTI
  gpu_start INTEGER,                  -- ns, NULL when unknown
  gpu_end   INTEGER
);

-- One row per launch with every field; `rowid` is the launch's rowid
-- (insert order), last so that SELECT * keeps the documented columns first.
CREATE VIEW kernels AS
  SELECT l.ts AS ts, l.dur AS dur, c.api AS api, c.name_id AS name_id, c.device AS device,
         c.stream AS stream, c.grid_x AS grid_x, c.grid_y AS grid_y, c.grid_z AS grid_z,
         c.block_x AS block_x, c.block_y AS block_y, c.block_z AS block_z, c.smem AS smem,
         c.thread AS thread, c.stack AS stack, l.correlation AS correlation,
         l.gpu_start AS gpu_start, l.gpu_end AS gpu_end, l.rowid AS rowid
  FROM kernel_launches l JOIN kernel_configs c ON c.id = l.config;

-- Copies and sets.
CREATE TABLE memcpys (
  ts        INTEGER NOT NULL,
  dur       INTEGER NOT NULL,
  api       INTEGER NOT NULL,
  kind      INTEGER NOT NULL,           -- enum copy_kind (h2d, d2h, d2d, h2h, default, memset)
  bytes     INTEGER NOT NULL,
  dst       INTEGER NOT NULL,
  src       INTEGER NOT NULL,           -- memset: the value
  device    INTEGER NOT NULL,
  stream    INTEGER NOT NULL,
  thread    INTEGER NOT NULL,
  stack     INTEGER NOT NULL,
  correlation INTEGER NOT NULL,
  gpu_start INTEGER,
  gpu_end   INTEGER
);

CREATE TABLE communicators (
  id        INTEGER PRIMARY KEY,        -- >= 1
  handle    INTEGER NOT NULL,           -- ncclComm_t as seen by the program
  unique_id TEXT,                       -- hex digest of ncclUniqueId: equal on every rank
  nranks    INTEGER NOT NULL,
  rank      INTEGER NOT NULL,           -- this process's rank in the communicator
  device    INTEGER NOT NULL,
  created   INTEGER NOT NULL,
  destroyed INTEGER
);

-- NCCL calls.
CREATE TABLE nccl_calls (
  ts        INTEGER NOT NULL,
  dur       INTEGER NOT NULL,
  op        INTEGER NOT NULL,           -- enum nccl_op
  comm      INTEGER NOT NULL,           -- communicators.id
  count     INTEGER NOT NULL,           -- elements
  dtype     INTEGER NOT NULL,           -- ncclDataType_t
  bytes     INTEGER NOT NULL,           -- count * size of dtype (per rank send buffer)
  peer      INTEGER NOT NULL,           -- root (broadcast/reduce) or peer (send/recv), -1 otherwise
  stream    INTEGER NOT NULL,
  thread    INTEGER NOT NULL,
  stack     INTEGER NOT NULL,
  correlation INTEGER NOT NULL,
  gpu_start INTEGER,
  gpu_end   INTEGER
);

-- NVTX ranges and marks (marks have te = ts).
CREATE TABLE ranges (
  ts        INTEGER NOT NULL,           -- ns, start
  te        INTEGER,                    -- ns, end; NULL if never closed
  kind      INTEGER NOT NULL,           -- enum range_kind (push_pop, start_end, mark)
  domain_id INTEGER NOT NULL,           -- strings.id, 0 = default domain
  name_id   INTEGER NOT NULL,           -- strings.id
  depth     INTEGER NOT NULL,           -- nesting depth on its thread (0 outermost)
  thread    INTEGER NOT NULL,
  category  INTEGER NOT NULL            -- NVTX category, 0 none
);

-- Other CUDA API calls worth seeing on the timeline (sync, stream/event ops).
CREATE TABLE api_calls (
  ts      INTEGER NOT NULL,
  dur     INTEGER NOT NULL,
  api     INTEGER NOT NULL,
  stream  INTEGER NOT NULL,
  thread  INTEGER NOT NULL,
  result  INTEGER NOT NULL
);

-- Events lost or not captured, per kind.  A report states them.
CREATE TABLE drops (
  kind   TEXT PRIMARY KEY,              -- 'alloc', 'kernel', 'stack', ...
  count  INTEGER NOT NULL,
  reason TEXT
) WITHOUT ROWID;
