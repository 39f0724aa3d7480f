/* simtrain kernels: empty __global__ functions in kernels.cu, named like the
 * kernels a PyTorch/Megatron job launches itself (GEMMs are cuBLAS's, see
 * gpu.c).  Listed once here (X-macro); launched with an explicit
 * cudaLaunchKernel from kernels.cu, through the shared runtime. */
#ifndef ST_KERNELS_H
#define ST_KERNELS_H

#define ST_KERNEL_LIST(X) \
	X(embedding_fwd_kernel) X(embedding_bwd_kernel) \
	X(layer_norm_fwd_kernel) X(layer_norm_bwd_kernel) \
	X(softmax_fwd_kernel) X(softmax_bwd_kernel) \
	X(fused_dropout_kernel) X(dropout_bwd_kernel) \
	X(gelu_fwd_kernel) X(gelu_bwd_kernel) \
	X(elementwise_add_kernel) X(fill_zero_kernel) X(scale_kernel) \
	X(flash_fwd_kernel) X(flash_bwd_kernel) \
	X(cross_entropy_fwd_kernel) X(cross_entropy_bwd_kernel) \
	X(multi_tensor_adam_kernel) X(multi_tensor_sgd_kernel) X(lion_update_kernel) \
	X(adafactor_update_kernel) X(cast_fp32_to_bf16_kernel) X(copy_chunk_kernel) \
	X(sigmoid_gate_kernel) X(outer_product_mean_kernel) X(triangle_multiply_kernel) \
	X(transition_kernel)

enum st_kernel {
#define ST_K_ENUM(n) K_##n,
	ST_KERNEL_LIST(ST_K_ENUM)
#undef ST_K_ENUM
	K__COUNT
};

#ifdef __cplusplus
extern "C" {
#endif
/* Launches kernel k with grid x 256 threads on stream (a cudaStream_t).
 * Returns the cudaError_t of the launch. */
int st_kernel_launch(int k, unsigned grid, void *stream);
#ifdef __cplusplus
}
#endif

#endif
