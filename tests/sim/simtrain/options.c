/* simtrain options: see options.h and README.md for every flag. */
#include "tests/sim/simtrain/options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
	"usage: simtrain [options]\n"
	"  --layers N --hidden N --heads N --seq N --batch N --vocab N --steps N\n"
	"  --dtype fp32|bf16  --precision fp32|bf16|fp16  --optimizer adamw|sgd|lion|adafactor\n"
	"  --world N  --checkpoint none|all|every:K|layers:A,B,...|selective\n"
	"  --zero 0|1|2|3  --sp N  --sp-kind megatron|ulysses  --tp N  --offload optimizer|params|optimizer:layerwise|nvme\n"
	"  --host-memory SIZE (bytes, or NKiB/NMiB/NGiB: pinned host memory available)\n"
	"  --micro-batches N  --attention naive|flash  --pp N  --pp-schedule gpipe|1f1b\n"
	"  --train-layers K  --train-only UNIT,...  --arch gpt|evoformer  --msa-seqs N --residues N --c-m N --c-z N --chunk N\n"
	"  --truth FILE  --truth-tensors all|none  --seed N  --annotate identity|all|none\n"
	"  --preset small|large|af2\n";

enum {
	O_LAYERS = 256, O_HIDDEN, O_HEADS, O_SEQ, O_BATCH, O_VOCAB, O_STEPS, O_DTYPE,
	O_OPTIM, O_WORLD, O_CKPT, O_ZERO, O_SP, O_SPKIND, O_OFFLOAD, O_MICRO, O_ATTN,
	O_PP, O_PPSCHED, O_TRAINL, O_ARCH, O_TRUTH, O_SEED, O_ANNOT, O_PRESET, O_MSA,
	O_RES, O_CM, O_CZ, O_TT, O_PREC, O_TONLY, O_TP, O_CHUNK, O_HOSTMEM, O_HELP
};

static const struct option long_opts[] = {
	{"layers", 1, 0, O_LAYERS}, {"hidden", 1, 0, O_HIDDEN}, {"heads", 1, 0, O_HEADS},
	{"seq", 1, 0, O_SEQ}, {"batch", 1, 0, O_BATCH}, {"vocab", 1, 0, O_VOCAB},
	{"steps", 1, 0, O_STEPS}, {"dtype", 1, 0, O_DTYPE}, {"optimizer", 1, 0, O_OPTIM},
	{"world", 1, 0, O_WORLD}, {"checkpoint", 1, 0, O_CKPT}, {"zero", 1, 0, O_ZERO},
	{"sp", 1, 0, O_SP}, {"sp-kind", 1, 0, O_SPKIND}, {"offload", 1, 0, O_OFFLOAD},
	{"micro-batches", 1, 0, O_MICRO}, {"attention", 1, 0, O_ATTN}, {"pp", 1, 0, O_PP},
	{"pp-schedule", 1, 0, O_PPSCHED}, {"train-layers", 1, 0, O_TRAINL},
	{"arch", 1, 0, O_ARCH}, {"truth", 1, 0, O_TRUTH}, {"seed", 1, 0, O_SEED},
	{"annotate", 1, 0, O_ANNOT}, {"preset", 1, 0, O_PRESET}, {"msa-seqs", 1, 0, O_MSA},
	{"residues", 1, 0, O_RES}, {"c-m", 1, 0, O_CM}, {"c-z", 1, 0, O_CZ},
	{"truth-tensors", 1, 0, O_TT}, {"precision", 1, 0, O_PREC}, {"train-only", 1, 0, O_TONLY}, {"tp", 1, 0, O_TP}, {"chunk", 1, 0, O_CHUNK}, {"host-memory", 1, 0, O_HOSTMEM}, {"help", 0, 0, O_HELP}, {0, 0, 0, 0}
};

static int pos_int(const char *name, const char *v, int *out, int min)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (*v == 0 || *end != 0 || x < min || x > 1000000000L) {
		fprintf(stderr, "simtrain: --%s wants an integer >= %d, got '%s'\n", name, min, v);
		return -1;
	}
	*out = (int)x;
	return 0;
}

static int parse_ckpt(struct st_opts *o, const char *v)
{
	snprintf(o->ckpt_spec, sizeof o->ckpt_spec, "%s", v);
	memset(o->ckpt_layer, 0, sizeof o->ckpt_layer);
	if (!strcmp(v, "none")) { o->ckpt = ST_CK_NONE; return 0; }
	if (!strcmp(v, "all")) { o->ckpt = ST_CK_ALL; return 0; }
	if (!strcmp(v, "selective")) { o->ckpt = ST_CK_SELECTIVE; return 0; }
	if (!strncmp(v, "every:", 6)) {
		o->ckpt = ST_CK_EVERY;
		return pos_int("checkpoint every", v + 6, &o->ckpt_every, 1);
	}
	if (!strncmp(v, "layers:", 7)) {
		const char *p = v + 7;
		o->ckpt = ST_CK_LAYERS;
		while (*p) {
			char *end;
			long k = strtol(p, &end, 10);
			if (end == p || k < 0 || k >= ST_MAX_LAYERS)
				goto bad;
			o->ckpt_layer[k] = 1;
			p = end;
			if (*p == ',')
				p++;
			else if (*p)
				goto bad;
		}
		return 0;
	}
bad:
	fprintf(stderr, "simtrain: bad --checkpoint '%s'\n", v);
	return -1;
}

static void defaults(struct st_opts *o)
{
	memset(o, 0, sizeof *o);
	o->layers = 4; o->hidden = 256; o->heads = 8; o->seq = 256; o->batch = 4;
	o->vocab = 8192; o->steps = 3; o->bf16 = 1; o->optimizer = ST_OPT_ADAMW;
	o->world = 1; o->ckpt = ST_CK_NONE; o->zero = 0; o->sp = 1; o->micro_batches = 1;
	o->pp = 1; o->arch = ST_ARCH_GPT; o->msa_seqs = 32; o->residues = 64; o->c_m = 64;
	o->c_z = 32; o->truth_tensors = 1; o->seed = 1; o->annotate = ST_ANN_IDENTITY;
	snprintf(o->ckpt_spec, sizeof o->ckpt_spec, "none");
	snprintf(o->precision, sizeof o->precision, "bf16");
}

/* AlphaFold2's Evoformer stack: 48 blocks, c_m 256, c_z 128 (~81M
 * parameters here); a small crop (32 sequences x 64 residues) so that it runs
 * in seconds. */
static void preset_af2(struct st_opts *o)
{
	o->arch = ST_ARCH_EVOFORMER;
	o->layers = 48; o->c_m = 256; o->c_z = 128; o->msa_seqs = 32; o->residues = 64;
	o->batch = 1; o->steps = 2;
}

/* Large preset: millions of events per rank for benchmarks (README). */
static void preset_large(struct st_opts *o)
{
	o->layers = 48; o->hidden = 256; o->heads = 8; o->seq = 128; o->batch = 8;
	o->vocab = 4096; o->steps = 500; o->micro_batches = 4; o->truth_tensors = 0;
}

int st_opts_parse(struct st_opts *o, int argc, char **argv)
{
	int c, r = 0;
	defaults(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		const char *v = optarg;
		switch (c) {
		case O_LAYERS: r = pos_int("layers", v, &o->layers, 1); break;
		case O_HIDDEN: r = pos_int("hidden", v, &o->hidden, 1); break;
		case O_HEADS: r = pos_int("heads", v, &o->heads, 1); break;
		case O_SEQ: r = pos_int("seq", v, &o->seq, 1); break;
		case O_BATCH: r = pos_int("batch", v, &o->batch, 1); break;
		case O_VOCAB: r = pos_int("vocab", v, &o->vocab, 1); break;
		case O_STEPS: r = pos_int("steps", v, &o->steps, 1); break;
		case O_WORLD: r = pos_int("world", v, &o->world, 1); break;
		case O_ZERO: r = pos_int("zero", v, &o->zero, 0); if (o->zero > 3) r = -1; break;
		case O_SP: r = pos_int("sp", v, &o->sp, 1); break;
		case O_MICRO: r = pos_int("micro-batches", v, &o->micro_batches, 1); break;
		case O_PP: r = pos_int("pp", v, &o->pp, 1); break;
		case O_TRAINL: r = pos_int("train-layers", v, &o->train_layers, 0); break;
		case O_MSA: r = pos_int("msa-seqs", v, &o->msa_seqs, 1); break;
		case O_RES: r = pos_int("residues", v, &o->residues, 1); break;
		case O_CM: r = pos_int("c-m", v, &o->c_m, 1); break;
		case O_CZ: r = pos_int("c-z", v, &o->c_z, 1); break;
		case O_SEED: { int s; r = pos_int("seed", v, &s, 0); o->seed = (unsigned)s; break; }
		case O_CKPT: r = parse_ckpt(o, v); break;
		case O_TRUTH: o->truth = v; break;
		case O_DTYPE:
			if (!strcmp(v, "bf16")) o->bf16 = 1;
			else if (!strcmp(v, "fp32")) o->bf16 = 0;
			else r = -1;
			if (!r)
				snprintf(o->precision, sizeof o->precision, "%s", v);
			break;
		case O_CHUNK: r = pos_int("chunk", v, &o->chunk, 1); break;
		case O_HOSTMEM: {
			char *end;
			o->host_memory = strtoull(v, &end, 10);
			if (!strcmp(end, "KiB")) o->host_memory <<= 10;
			else if (!strcmp(end, "MiB")) o->host_memory <<= 20;
			else if (!strcmp(end, "GiB")) o->host_memory <<= 30;
			else if (*end || end == v) r = -1;
			break;
		}
		case O_TP:
			/* Megatron TP runs with its sequence parallelism (Korthikanti et al.) */
			r = pos_int("tp", v, &o->tp, 1);
			if (!r && o->tp > 1) {
				o->sp = o->tp;
				o->sp_ulysses = 0;
			}
			break;
		case O_TONLY:
			if (!*v || strlen(v) >= sizeof o->train_only) r = -1;
			else snprintf(o->train_only, sizeof o->train_only, "%s", v);
			break;
		case O_PREC:
			/* fp16 is bf16's memory (2-byte compute, fp32 master; the loss
			 * scale is a scalar); fp8 needs FP8 GEMMs and per-tensor scales
			 * the simulated cuBLASLt does not have */
			if (!strcmp(v, "bf16") || !strcmp(v, "fp16")) o->bf16 = 1;
			else if (!strcmp(v, "fp32")) o->bf16 = 0;
			else if (!strcmp(v, "fp8")) {
				fprintf(stderr, "simtrain: --precision fp8 is not simulated (no FP8 GEMM in the simulated cuBLASLt)\n");
				return -1;
			} else r = -1;
			if (!r)
				snprintf(o->precision, sizeof o->precision, "%s", v);
			break;
		case O_OPTIM:
			if (!strcmp(v, "adamw")) o->optimizer = ST_OPT_ADAMW;
			else if (!strcmp(v, "sgd")) o->optimizer = ST_OPT_SGD;
			else if (!strcmp(v, "lion")) o->optimizer = ST_OPT_LION;
			else if (!strcmp(v, "adafactor")) o->optimizer = ST_OPT_ADAFACTOR;
			else r = -1;
			break;
		case O_SPKIND:
			if (!strcmp(v, "megatron")) o->sp_ulysses = 0;
			else if (!strcmp(v, "ulysses")) o->sp_ulysses = 1;
			else r = -1;
			break;
		case O_OFFLOAD:
			if (!strcmp(v, "optimizer")) o->offload = ST_OFF_OPTIMIZER;
			else if (!strcmp(v, "params")) o->offload = ST_OFF_PARAMS;
			else if (!strcmp(v, "none")) o->offload = ST_OFF_NONE;
			else if (!strcmp(v, "optimizer:layerwise")) o->offload = ST_OFF_LAYERWISE;
			else if (!strcmp(v, "nvme")) o->offload = ST_OFF_NVME;
			else r = -1;
			break;
		case O_ATTN:
			if (!strcmp(v, "flash")) o->flash = 1;
			else if (!strcmp(v, "naive")) o->flash = 0;
			else r = -1;
			break;
		case O_PPSCHED:
			if (!strcmp(v, "1f1b")) o->pp_1f1b = 1;
			else if (!strcmp(v, "gpipe")) o->pp_1f1b = 0;
			else r = -1;
			break;
		case O_ARCH:
			if (!strcmp(v, "gpt")) o->arch = ST_ARCH_GPT;
			else if (!strcmp(v, "evoformer")) o->arch = ST_ARCH_EVOFORMER;
			else r = -1;
			break;
		case O_ANNOT:
			if (!strcmp(v, "identity")) o->annotate = ST_ANN_IDENTITY;
			else if (!strcmp(v, "all")) o->annotate = ST_ANN_ALL;
			else if (!strcmp(v, "none")) o->annotate = ST_ANN_NONE;
			else r = -1;
			break;
		case O_TT:
			if (!strcmp(v, "all")) o->truth_tensors = 1;
			else if (!strcmp(v, "none")) o->truth_tensors = 0;
			else r = -1;
			break;
		case O_PRESET:
			if (!strcmp(v, "large")) preset_large(o);
			else if (!strcmp(v, "af2")) preset_af2(o);
			else if (strcmp(v, "small")) r = -1;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return 1;
		default:
			r = -1;
		}
		if (r) {
			if (v)
				fprintf(stderr, "simtrain: bad value '%s'\n", v);
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "simtrain: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->world == 1 && getenv("RANK") && getenv("WORLD_SIZE") && atoi(getenv("WORLD_SIZE")) > 1)
		o->world = atoi(getenv("WORLD_SIZE")); /* launcher mode: the launcher's world */
	if (o->layers > ST_MAX_LAYERS || o->hidden % o->heads) {
		fprintf(stderr, "simtrain: --hidden must be a multiple of --heads, --layers <= %d\n", ST_MAX_LAYERS);
		return -1;
	}
	if (o->world % (o->sp * o->pp)) {
		fprintf(stderr, "simtrain: --world must be a multiple of --sp * --pp\n");
		return -1;
	}
	if (o->batch % o->micro_batches) {
		fprintf(stderr, "simtrain: --batch must be a multiple of --micro-batches\n");
		return -1;
	}
	if (o->sp > 1 && (o->seq % o->sp || o->heads % o->sp || o->hidden % o->sp)) {
		fprintf(stderr, "simtrain: --sp must divide --seq, --heads and --hidden\n");
		return -1;
	}
	if (o->pp > 1 && (o->layers < o->pp || o->zero > 1)) {
		fprintf(stderr, "simtrain: --pp needs --layers >= --pp and --zero 0|1\n");
		return -1;
	}
	if (o->pp > 1 && (o->arch != ST_ARCH_GPT || o->train_layers)) {
		fprintf(stderr, "simtrain: --pp > 1 needs --arch gpt and no --train-layers\n");
		return -1;
	}
	if (o->chunk && o->arch != ST_ARCH_EVOFORMER) {
		fprintf(stderr, "simtrain: --chunk is the Evoformer's (--arch evoformer)\n");
		return -1;
	}
	if (o->arch == ST_ARCH_EVOFORMER && o->flash) {
		fprintf(stderr, "simtrain: --arch evoformer has no flash attention (its pair-biased maps are made whole; --chunk N)\n");
		return -1;
	}
	if (o->arch == ST_ARCH_EVOFORMER && o->sp > 1) {
		fprintf(stderr, "simtrain: --arch evoformer has no --sp (README.md: Evoformer)\n");
		return -1;
	}
	if (o->train_layers && o->zero > 1) {
		fprintf(stderr, "simtrain: --train-layers needs --zero 0|1\n");
		return -1;
	}
	if (o->offload == ST_OFF_LAYERWISE && (o->zero || o->pp > 1 || o->train_layers)) {
		fprintf(stderr, "simtrain: --offload optimizer:layerwise needs --zero 0, --pp 1 and no --train-layers\n");
		return -1;
	}
	if (o->tp > 1 && (o->sp != o->tp || o->sp_ulysses)) {
		fprintf(stderr, "simtrain: --tp N is Megatron TP + SP of degree N: not with another --sp or --sp-kind ulysses\n");
		return -1;
	}
	if (o->train_only[0] && (o->train_layers || o->pp > 1)) {
		fprintf(stderr, "simtrain: --train-only needs no --train-layers and --pp 1\n");
		return -1;
	}
	if (o->train_layers > o->layers) {
		fprintf(stderr, "simtrain: --train-layers exceeds --layers\n");
		return -1;
	}
	return 0;
}

int st_opts_unit_trainable(const struct st_opts *o, const char *unit)
{
	const char *p = o->train_only;
	size_t n = strlen(unit);
	if (!*p)
		return 1;
	while (*p) {
		size_t l = strcspn(p, ",");
		if (l && l <= n && !strncmp(unit, p, l) && (unit[l] == 0 || unit[l] == '.'))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

int st_opts_dp(const struct st_opts *o)
{
	return o->world / (o->sp * o->pp);
}

int st_opts_layer_checkpointed(const struct st_opts *o, int k)
{
	switch (o->ckpt) {
	case ST_CK_ALL: return 1;
	case ST_CK_EVERY: return k % o->ckpt_every == 0;
	case ST_CK_LAYERS: return k < ST_MAX_LAYERS && o->ckpt_layer[k];
	default: return 0;
	}
}

void st_opts_json(const struct st_opts *o, FILE *f)
{
	static const char *optn[] = {"adamw", "sgd", "lion", "adafactor"};
	static const char *offn[] = {"none", "optimizer", "params", "optimizer:layerwise", "nvme"};
	static const char *annn[] = {"identity", "all", "none"};
	fprintf(f, "{\"arch\": \"%s\", \"layers\": %d, \"hidden\": %d, \"heads\": %d, \"seq\": %d, "
		"\"batch\": %d, \"vocab\": %d, \"steps\": %d, \"dtype\": \"%s\", \"precision\": \"%s\", \"optimizer\": \"%s\", "
		"\"world\": %d, \"checkpoint\": \"%s\", \"zero\": %d, \"sp\": %d, \"sp_kind\": \"%s\", "
		"\"dp\": %d, \"offload\": \"%s\", \"micro_batches\": %d, \"attention\": \"%s\", \"pp\": %d, "
		"\"pp_schedule\": \"%s\", \"train_layers\": %d, \"train_only\": \"%s\", \"msa_seqs\": %d, \"residues\": %d, "
		"\"c_m\": %d, \"c_z\": %d, \"seed\": %u, \"annotate\": \"%s\"}",
		o->arch == ST_ARCH_GPT ? "gpt" : "evoformer", o->layers, o->hidden, o->heads, o->seq,
		o->batch, o->vocab, o->steps, o->bf16 ? "bf16" : "fp32", o->precision, optn[o->optimizer],
		o->world, o->ckpt_spec, o->zero, o->sp, o->sp_ulysses ? "ulysses" : "megatron",
		st_opts_dp(o), offn[o->offload], o->micro_batches, o->flash ? "flash" : "naive", o->pp,
		o->pp_1f1b ? "1f1b" : "gpipe", o->train_layers, o->train_only, o->msa_seqs, o->residues, o->c_m,
		o->c_z, o->seed, annn[o->annotate]);
}
