#include "config.h"
#include "analyzer/cmds/cmds.h"
static int run(int argc, char **argv) { return 2; }
const mt_cmd mt_cmd_export = { .name = "export", .summary = "x", .usage = "x\n", .run = run };
