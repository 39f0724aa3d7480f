/* Simulated NCCL: element-wise reductions in the element's own type.
 *
 * Integers wrap as in C's unsigned arithmetic (signed types are reduced
 * through their unsigned counterpart for sum/prod, so overflow is defined).
 * fp16 and bf16 go through float and are rounded back to nearest-even after
 * every pairwise step, as a ring in real NCCL rounds after every hop.  ncclAvg
 * sums, then divides by nranks once (integers: C division, toward zero).
 * fp8 types can be moved (allgather, broadcast, send/recv) but not reduced. */
#include "tests/sim/nccl/nccl_int.h"

#include <math.h>
#include <string.h>

size_t mt__type_size(ncclDataType_t t)
{
	switch (t) {
	case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2:
		return 1;
	case ncclFloat16: case ncclBfloat16:
		return 2;
	case ncclInt32: case ncclUint32: case ncclFloat32:
		return 4;
	case ncclInt64: case ncclUint64: case ncclFloat64:
		return 8;
	default:
		return 0;
	}
}

int mt__type_reducible(ncclDataType_t t)
{
	return mt__type_size(t) != 0 && t != ncclFloat8e4m3 && t != ncclFloat8e5m2;
}

float mt__half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);
	} else if (exp != 0) {
		bits = sign | ((exp + 112u) << 23) | (man << 13);
	} else if (man == 0) {
		bits = sign;
	} else { /* subnormal: value = man * 2^-24 */
		float f = (float)man * 0x1p-24f;
		return sign ? -f : f;
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t mt__float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t ax = x & 0x7fffffffu;
	if (ax >= 0x7f800000u) /* inf or nan */
		return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
	if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow */
		return (uint16_t)(sign | 0x7c00u);
	if (ax < 0x38800000u) { /* below the smallest normal: subnormal or zero */
		float a;
		memcpy(&a, &ax, sizeof a);
		float m = nearbyintf(a * 0x1p24f); /* round-to-nearest-even */
		return (uint16_t)(sign | (uint16_t)m);
	}
	uint32_t exp = (ax >> 23) - 112u, man = ax & 0x7fffffu;
	uint32_t h = (exp << 10) | (man >> 13);
	uint32_t rest = man & 0x1fffu;
	if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
		h++; /* may carry into the exponent: still correct */
	return (uint16_t)(sign | h);
}

float mt__bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t mt__float_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
	x += 0x7fffu + ((x >> 16) & 1u);
	return (uint16_t)(x >> 16);
}

#define OP_LOOP(T, EXPR)                                        \
	do {                                                    \
		T *a_ = acc;                                    \
		const T *s_ = src;                              \
		for (size_t i = 0; i < count; i++) {            \
			T x = a_[i], y = s_[i];                 \
			a_[i] = (EXPR);                         \
		}                                               \
	} while (0)

#define INT_CASE(T, U)                                                          \
	switch (op) {                                                           \
	case ncclProd: OP_LOOP(T, (T)((U)x * (U)y)); break;                     \
	case ncclMax: OP_LOOP(T, x > y ? x : y); break;                         \
	case ncclMin: OP_LOOP(T, x < y ? x : y); break;                         \
	default: OP_LOOP(T, (T)((U)x + (U)y)); break;                           \
	}

#define FLT_CASE(T, MAX, MIN)                                                   \
	switch (op) {                                                           \
	case ncclProd: OP_LOOP(T, x * y); break;                                \
	case ncclMax: OP_LOOP(T, MAX(x, y)); break;                             \
	case ncclMin: OP_LOOP(T, MIN(x, y)); break;                             \
	default: OP_LOOP(T, x + y); break;                                      \
	}

static float apply_f(float x, float y, ncclRedOp_t op)
{
	switch (op) {
	case ncclProd: return x * y;
	case ncclMax: return fmaxf(x, y);
	case ncclMin: return fminf(x, y);
	default: return x + y;
	}
}

void mt__reduce(void *acc, const void *src, size_t count, ncclDataType_t t, ncclRedOp_t op)
{
	switch (t) {
	case ncclInt8: INT_CASE(int8_t, uint8_t); break;
	case ncclUint8: INT_CASE(uint8_t, unsigned); break;
	case ncclInt32: INT_CASE(int32_t, uint32_t); break;
	case ncclUint32: INT_CASE(uint32_t, uint32_t); break;
	case ncclInt64: INT_CASE(int64_t, uint64_t); break;
	case ncclUint64: INT_CASE(uint64_t, uint64_t); break;
	case ncclFloat32: FLT_CASE(float, fmaxf, fminf); break;
	case ncclFloat64: FLT_CASE(double, fmax, fmin); break;
	case ncclFloat16: {
		uint16_t *a = acc;
		const uint16_t *s = src;
		for (size_t i = 0; i < count; i++)
			a[i] = mt__float_to_half(apply_f(mt__half_to_float(a[i]), mt__half_to_float(s[i]), op));
		break;
	}
	case ncclBfloat16: {
		uint16_t *a = acc;
		const uint16_t *s = src;
		for (size_t i = 0; i < count; i++)
			a[i] = mt__float_to_bf16(apply_f(mt__bf16_to_float(a[i]), mt__bf16_to_float(s[i]), op));
		break;
	}
	default:
		break;
	}
}

/* buf[i] /= n (n > 0: ncclAvg, after the sum; integer division for integer
 * types, as NCCL) or buf[i] *= s (n == 0: the scalar of a PreMulSum op,
 * applied once to the sum). */
#define RESCALE_LOOP(T)                                                                  \
	do {                                                                             \
		T *b_ = buf;                                                             \
		for (size_t i = 0; i < count; i++)                                       \
			b_[i] = n ? (T)(b_[i] / (T)n) : (T)((double)b_[i] * s);          \
	} while (0)

static void rescale(void *buf, size_t count, ncclDataType_t t, int n, double s)
{
	switch (t) {
	case ncclInt8: RESCALE_LOOP(int8_t); break;
	case ncclUint8: RESCALE_LOOP(uint8_t); break;
	case ncclInt32: RESCALE_LOOP(int32_t); break;
	case ncclUint32: RESCALE_LOOP(uint32_t); break;
	case ncclInt64: RESCALE_LOOP(int64_t); break;
	case ncclUint64: RESCALE_LOOP(uint64_t); break;
	case ncclFloat32: RESCALE_LOOP(float); break;
	case ncclFloat64: RESCALE_LOOP(double); break;
	case ncclFloat16:
	case ncclBfloat16: {
		uint16_t *b = buf;
		int half = t == ncclFloat16;
		for (size_t i = 0; i < count; i++) {
			float v = half ? mt__half_to_float(b[i]) : mt__bf16_to_float(b[i]);
			v = n ? v / (float)n : (float)(v * s);
			b[i] = half ? mt__float_to_half(v) : mt__float_to_bf16(v);
		}
		break;
	}
	default:
		break;
	}
}

void mt__divide(void *buf, size_t count, ncclDataType_t t, int n)
{
	rescale(buf, count, t, n, 0);
}

void mt__scale(void *buf, size_t count, ncclDataType_t t, double s)
{
	rescale(buf, count, t, 0, s);
}

/* The value of a scalar of type t at p, as a double. */
double mt__scalar_value(const void *p, ncclDataType_t t)
{
	switch (t) {
	case ncclInt8: return *(const int8_t *)p;
	case ncclUint8: return *(const uint8_t *)p;
	case ncclInt32: return *(const int32_t *)p;
	case ncclUint32: return *(const uint32_t *)p;
	case ncclInt64: return (double)*(const int64_t *)p;
	case ncclUint64: return (double)*(const uint64_t *)p;
	case ncclFloat32: return *(const float *)p;
	case ncclFloat64: return *(const double *)p;
	case ncclFloat16: return mt__half_to_float(*(const uint16_t *)p);
	case ncclBfloat16: return mt__bf16_to_float(*(const uint16_t *)p);
	default: return 0;
	}
}
