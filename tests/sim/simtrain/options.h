/* simtrain options: parsed once, read-only afterwards. */
#ifndef ST_OPTIONS_H
#define ST_OPTIONS_H

#include <stdio.h>

enum st_ckpt { ST_CK_NONE, ST_CK_ALL, ST_CK_EVERY, ST_CK_LAYERS, ST_CK_SELECTIVE };
enum st_optim { ST_OPT_ADAMW, ST_OPT_SGD, ST_OPT_LION, ST_OPT_ADAFACTOR };
enum st_offload { ST_OFF_NONE, ST_OFF_OPTIMIZER, ST_OFF_PARAMS, ST_OFF_LAYERWISE, ST_OFF_NVME };
enum st_annot { ST_ANN_IDENTITY, ST_ANN_ALL, ST_ANN_NONE };
enum st_arch { ST_ARCH_GPT, ST_ARCH_EVOFORMER };

#define ST_MAX_LAYERS 4096

struct st_opts {
	int layers, hidden, heads, seq, batch, vocab, steps;
	int bf16;               /* 1: bf16 params/grads/activations, fp32 master weights */
	enum st_optim optimizer;
	int world;
	enum st_ckpt ckpt;
	int ckpt_every;
	unsigned char ckpt_layer[ST_MAX_LAYERS]; /* --checkpoint layers:A,B */
	int zero;
	int sp, sp_ulysses;     /* degree, kind */
	int tp;                 /* --tp: Megatron TP + SP (sets sp, megatron) */
	unsigned long long host_memory; /* --host-memory: pinned host bytes available (0 = unlimited) */
	int chunk;              /* --chunk N: Evoformer attention in chunks of N residues (0 = none) */
	enum st_offload offload;
	int micro_batches;
	int flash;
	int pp, pp_1f1b;
	int train_layers;       /* 0 = all */
	enum st_arch arch;
	int msa_seqs, residues, c_m, c_z;
	const char *truth;
	int truth_tensors;      /* 1: write the tensors list */
	unsigned seed;
	enum st_annot annotate;
	char train_only[256];   /* --train-only: unit-name prefixes trained, the rest frozen ("" = all) */
	char precision[8];      /* --precision / --dtype as given: fp32, bf16, fp16 */
	char ckpt_spec[256];    /* as given, for the config echo */
};

/* Parses argv into o (defaults first).  Returns 0, or prints a message and
 * returns -1 (usage error), or 1 after --help. */
int st_opts_parse(struct st_opts *o, int argc, char **argv);
/* Whether layer k keeps only its input in forward (full recompute). */
int st_opts_layer_checkpointed(const struct st_opts *o, int k);
/* Writes the options as a JSON object (no trailing newline). */
void st_opts_json(const struct st_opts *o, FILE *f);
/* Whether --train-only trains the unit of this name (a prefix at a '.' boundary). */
int st_opts_unit_trainable(const struct st_opts *o, const char *unit);
/* Data-parallel degree: world / (sp * pp). */
int st_opts_dp(const struct st_opts *o);

#endif
