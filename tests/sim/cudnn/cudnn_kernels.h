/* Kernels of the simulated cuDNN: empty __global__ functions named as cuDNN
 * 9 kernels appear in Nsight Systems on an H100 (fused flash attention,
 * implicit-GEMM convolutions, batch norm).  Listed once here (X-macro). */
#ifndef MT_SIM_CUDNN_KERNELS_H
#define MT_SIM_CUDNN_KERNELS_H

#define SIMCUDNN_KERNEL_LIST(X) \
	X(SCD_K_SDPA_FPROP, cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_64x128x128_4x1x1_kernel0_0) \
	X(SCD_K_SDPA_DOT_DO_O, cudnn_generated_fort_native_sdpa_sm90_flash_bprop_dot_do_o_kernel0_0) \
	X(SCD_K_SDPA_BPROP, cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_3_64x128x128_4x1x1_kernel0_0) \
	X(SCD_K_SDPA_CONVERT_DQ, cudnn_generated_fort_native_sdpa_sm90_flash_bprop_convert_dq_kernel0_0) \
	X(SCD_K_CONV_FPROP, sm90_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x32_warpgroupsize1x1x1_g1_execute_kernel__5x_cudnn) \
	X(SCD_K_CONV_DGRAD, sm90_xmma_dgrad_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x32_warpgroupsize1x1x1_g1_execute_kernel__5x_cudnn) \
	X(SCD_K_CONV_WGRAD, sm90_xmma_wgrad_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x32_warpgroupsize1x1x1_g1_execute_kernel__5x_cudnn) \
	X(SCD_K_GENERIC, cudnn_generated_fort_native_pointwise_kernel0_0) \
	X(SCD_K_BN_FWD_TRAIN, cudnn_bn_fw_tr_1C11_kernel_NCHW) \
	X(SCD_K_BN_BWD, cudnn_bn_bw_1C11_kernel_new) \
	X(SCD_K_BN_FWD_INF, cudnn_bn_fw_inf_1C11_kernel_NCHW)

enum simcudnn_kernel {
#define SCD_ENUM(id, name) id,
	SIMCUDNN_KERNEL_LIST(SCD_ENUM)
#undef SCD_ENUM
	SCD_K__N
};

#ifdef __cplusplus
extern "C" {
#endif
/* Launches kernel idx with blocks x 128 threads on stream (a cudaStream_t)
 * through cudaLaunchKernel; returns its cudaError_t. */
int simcudnn_launch(int idx, unsigned blocks, void *stream) __attribute__((visibility("hidden")));
#ifdef __cplusplus
}
#endif
#endif
