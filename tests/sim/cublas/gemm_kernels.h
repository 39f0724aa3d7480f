/* Kernels of the simulated cuBLAS: empty __global__ functions with extern "C"
 * names as real cuBLAS 12/13 kernels appear in Nsight Systems on an H100
 * (sm_90 xmma tensor-core GEMMs; the SIMT fp32 sgemm).  One per operand
 * layout (transa, transb): tn, nn, nt, tt.  Listed once here (X-macro). */
#ifndef MT_SIM_CUBLAS_KERNELS_H
#define MT_SIM_CUBLAS_KERNELS_H

#define SIMCUBLAS_XMMA(in, acc, ly, tile) \
	sm90_xmma_gemm_##in##_##acc##_f32_##ly##_n_tilesize##tile##_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas

#define SIMCUBLAS_LAYOUTS(X, fam) X(fam, tn) X(fam, nn) X(fam, nt) X(fam, tt)

/* X(family, layout): families bf16, f16, tf32, sgemm, dgemm */
#define SIMCUBLAS_KERNEL_LIST(X) \
	SIMCUBLAS_LAYOUTS(X, bf16) SIMCUBLAS_LAYOUTS(X, f16) \
	SIMCUBLAS_LAYOUTS(X, tf32) SIMCUBLAS_LAYOUTS(X, sgemm) SIMCUBLAS_LAYOUTS(X, dgemm)

#define SIMCUBLAS_NAME_bf16(ly) SIMCUBLAS_XMMA(bf16bf16, bf16f32, ly, 128x128x64)
#define SIMCUBLAS_NAME_f16(ly) SIMCUBLAS_XMMA(f16f16, f16f32, ly, 128x128x64)
#define SIMCUBLAS_NAME_tf32(ly) SIMCUBLAS_XMMA(f32f32, tf32f32, ly, 128x128x32)
#define SIMCUBLAS_NAME_sgemm(ly) ampere_sgemm_128x64_##ly
#define SIMCUBLAS_NAME_dgemm(ly) sm90_xmma_gemm_f64f64_f64f64_f64_##ly##_n_tilesize128x64x16_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas
#define SIMCUBLAS_NAME(fam, ly) SIMCUBLAS_NAME_##fam(ly)

/* Level-1/2 kernels: X(id, name), one grid of blocks each. */
#define SIMCUBLAS_AUX_LIST(X) \
	X(SCB_K_GEMV_N, gemv2N_kernel) X(SCB_K_GEMV_T, gemv2T_kernel) \
	X(SCB_K_DOT, dot_kernel) X(SCB_K_DOT_REDUCE, reduce_1Block_kernel)
enum simcublas_aux {
#define SCB_AUX_ENUM(id, name) id,
	SIMCUBLAS_AUX_LIST(SCB_AUX_ENUM)
#undef SCB_AUX_ENUM
	SCB_K__NAUX
};

enum simcublas_family { SCB_BF16, SCB_F16, SCB_TF32, SCB_SGEMM, SCB_DGEMM, SCB__NFAM };
/* kernel index = family * 4 + layout; layouts in list order tn, nn, nt, tt
 * (first letter transa, second transb; t for CUBLAS_OP_T and CUBLAS_OP_C) */
#define SIMCUBLAS_NKERNELS (4 * SCB__NFAM)

#ifdef __cplusplus
extern "C" {
#endif
/* Launches kernel idx with grid (gx, gy, gz) and block threads on stream (a
 * cudaStream_t) through cudaLaunchKernel; returns its cudaError_t. */
int simcublas_launch(int idx, unsigned gx, unsigned gy, unsigned gz, unsigned block, void *stream)
	__attribute__((visibility("hidden")));
/* Launches level-1/2 kernel id (enum simcublas_aux) with blocks x threads. */
int simcublas_launch_aux(int id, unsigned blocks, unsigned threads, void *stream)
	__attribute__((visibility("hidden")));
/* Name of kernel idx (for messages and tests). */
const char *simcublas_kernel_name(int idx) __attribute__((visibility("hidden")));
#ifdef __cplusplus
}
#endif

#endif
