/* The techniques of replay and recommend, one table entry each
 * (technique.c, docs/REPLAY.md "Techniques"): its option and parser, its
 * description, whether the job model of a recording lets it be modelled
 * (and why not), where transform.c applies it, the values recommend tries,
 * what plans that differ in it may share, and the PyTorch change it stands
 * for.  A new technique is one entry here and its transform. */
#ifndef MT_REPLAY_TECHNIQUE_H
#define MT_REPLAY_TECHNIQUE_H

#include <stddef.h>
#include "analyzer/replay/replay.h"

typedef struct mt_rp_technique {
  const char *option;       /* "checkpoint": --checkpoint VALUE */
  const char *values;       /* "none|all|every:K|layers:A,B,...|selective" */
  const char *help;         /* one line */
  /* Applies the value to p: 0, or -1 with a message in err. */
  int (*parse)(mt_rp_plan *p, const char *v, char *err, size_t errlen);
  /* The value p sets, "" when p leaves the technique as recorded. */
  void (*value)(const mt_rp_plan *p, char *buf, size_t len);
  /* NULL when the job model of in lets p's use of it be modelled, else
   * why not ("no optimizer state identified: record with the PyTorch layer"). */
  const char *(*refuse)(const mt_rp_input *in, const mt_rp_plan *p);
  /* The PyTorch change p's use of it stands for ("" when none). */
  void (*torch)(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len);
  /* 1: applied before the model states (transform.c's prefix): plans that
   * differ in it cannot continue from one prefix; 0: a model-state
   * technique, applied after it (plans differing only here share it). */
  int prefix;
  const char *transform;    /* the function of transform.c that applies it */
  /* recommend's values, NULL-terminated ("" = as recorded); "@placement":
   * the checkpoint placement the DP finds for the budget */
  const char *const *candidates;
  /* how much of a training script using it changes (places to edit: 1 for
   * a wrapper or a constructor, 3 for a launcher, a process group and a
   * wrapper); recommend weighs it beside recompute and communication time */
  int code_change;
} mt_rp_technique;

extern const mt_rp_technique mt_rp_techniques[];
extern const size_t mt_rp_ntechniques;

/* The entry for an option name, or NULL. */
const mt_rp_technique *mt_rp_technique_find(const char *option);
/* The first technique p uses that in's job model cannot model: its
 * message ("--optimizer sgd: no optimizer state identified: ...") in why,
 * and 1; 0 when every one can. */
int mt_rp_plan_refused(const mt_rp_input *in, const mt_rp_plan *p, char *why, size_t len);
/* The code-change weight of the techniques p uses (sum of code_change). */
int mt_rp_plan_code_change(const mt_rp_plan *p);
/* The step time p's use of t adds beyond recompute, communication and host
 * traffic, which the replay reports (cost.c): e.g. the parameters read once
 * more per micro-batch (ns, may be negative).  technique.c's tcosts table
 * holds each technique's hook and whether it changes the training. */
int64_t mt_rp_technique_cost(const mt_rp_technique *t, const mt_rp_input *in, const mt_rp_plan *p);
/* 1 when p uses a technique that changes what or how it trains (another
 * optimizer, fewer trained layers, lower precision): recommend lists such
 * plans after those that train the same model the same way. */
int mt_rp_plan_alters_training(const mt_rp_plan *p);
/* The PyTorch changes of p, "; "-separated ("" when p is as recorded). */
void mt_rp_plan_torch(const mt_rp_input *in, const mt_rp_plan *p, char *buf, size_t len);

#endif
