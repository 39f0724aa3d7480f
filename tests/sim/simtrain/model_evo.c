/* simtrain Evoformer (AlphaFold2-like) model: see the end of README.md. */
#include "tests/sim/simtrain/simtrain.h"

#include <stdio.h>
#include <stdlib.h>

uint64_t st_evo_parameters(const struct st_opts *o)
{
	(void)o;
	return 0;
}

void st_evo_units(struct st_rank *r)
{
	(void)r;
	fprintf(stderr, "simtrain: --arch evoformer is not implemented yet\n");
	exit(2);
}

void st_evo_forward_backward(struct st_rank *r, int micro)
{
	(void)r;
	(void)micro;
}
