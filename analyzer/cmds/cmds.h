/* Subcommands of `memtrace`: one file each in analyzer/cmds/. */
#ifndef MT_CMDS_H
#define MT_CMDS_H
#include <stdint.h>
#include <stdio.h>

typedef struct mt_cmd {
  const char *name;
  const char *summary;   /* one line for `memtrace --help` */
  const char *usage;     /* full text for `memtrace help NAME` and NAME --help */
  int (*run)(int argc, char **argv);
} mt_cmd;

/* Exit codes shared by every subcommand. */
enum { MT_EXIT_OK = 0, MT_EXIT_FAIL = 1, MT_EXIT_USAGE = 2, MT_EXIT_THRESHOLD = 3 };

/* One per file in analyzer/cmds/.  Ordinary symbols: a command whose file
 * is missing from the build fails the link rather than vanishing. */
#define MT__CMD(name) extern const mt_cmd mt_cmd_##name
MT__CMD(record);
MT__CMD(info);
MT__CMD(report);
MT__CMD(diff);
MT__CMD(replay);
MT__CMD(recommend);
MT__CMD(import);
MT__CMD(export);
MT__CMD(dump);
MT__CMD(upgrade);
#undef MT__CMD

/* info.c: the traces (*.mtrace) of a run directory, sorted by rank then
 * pid (*paths: NULL-terminated, caller frees each and the array); and the
 * totals of one trace for record's summary line.  0 on success. */
int mt_info_list_traces(const char *dir, char ***paths, size_t *n);
int mt_info_trace_counts(const char *path, int64_t *events, int64_t *dropped, int *rank,
                         int64_t *pid, char *err, size_t errlen);

/* simulate.c: record --simulate-gpus N [--gpu-memory SIZE] [--gpu NAME]
 * [--no-collect] (docs/SIMULATE.md). */
enum { MT_SIM_OPT_GPUS = 0x100, MT_SIM_OPT_MEMORY, MT_SIM_OPT_GPU, MT_SIM_OPT_NO_COLLECT };
typedef struct {
  int gpus;             /* 0: no simulation */
  uint64_t memory;      /* 0: the model's */
  const char *gpu;      /* NULL: h100 */
  int no_collect;
} mt_simulate_opts;
/* Parses one of the options above: 0, or a usage error's exit code. */
int mt_simulate_option(mt_simulate_opts *o, int opt, const char *arg);
/* Sets up the environment of the simulated GPUs; -1: go on recording;
 * else the exit code to return (a usage error, or --no-collect's run). */
int mt_simulate_prepare(const mt_simulate_opts *o, char **cmd);

/* util.c */
/* Prints "memtrace CMD: message" on stderr and returns MT_EXIT_USAGE. */
int mt_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "memtrace: message" on stderr. */
void mt_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv has -h/--help before a "--". */
int mt_wants_help(int argc, char **argv);
/* Formats bytes as "1.50 GiB" (binary units) into buf. */
const char *mt_fmt_bytes(uint64_t bytes, char *buf, size_t len);
/* Parses "40GiB", "500MB", "1.5 GiB", "123" (bytes).  GiB/MiB/KiB are binary,
 * GB/MB/KB decimal.  Returns 0 and sets *out, or -1. */
int mt_parse_size(const char *s, uint64_t *out);

/* Output files (-o), one way for every command that writes one: never an
 * input trace, written beside its final name and renamed into place, so a
 * failure (or a damaged input met on the way) leaves nothing half-written.
 *
 * mt_output_check: 0 when OUT may be written; else says "memtrace CMD: OUT
 * is the input trace IN" (same device and inode as an input, or as a trace
 * in an input directory) and returns MT_EXIT_USAGE.
 * mt_output_temp: a fresh name in OUT's directory (caller frees; nothing
 * created), for writers that create the file themselves.
 * mt_output_fopen: a new temporary file there, opened for writing (mode
 * 0666 less the umask); *tmp receives its name.  NULL (message printed).
 * mt_output_commit: renames tmp over out when ok and no damaged trace was
 * met (mt_trace_damage_seen); else removes tmp (a file, or a directory and
 * the files in it).  Frees tmp; 0, or -1 with a message printed. */
int mt_output_check(const char *cmd, const char *out, char *const *inputs, int ninputs);
char *mt_output_temp(const char *out);
FILE *mt_output_fopen(const char *out, char **tmp);
int mt_output_commit(char *tmp, const char *out, int ok);
#endif
