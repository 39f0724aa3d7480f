/* The part of cuDNN's legacy API PyTorch uses in training besides the
 * backend: tensor and activation descriptors, and batch normalization
 * (nn.BatchNorm*d with cuDNN enabled: training forward, backward,
 * inference).  Batch norm kernels launch through the runtime like the rest;
 * the workspace and reserve sizes are answered here and the caller
 * allocates them (PyTorch does, from its caching allocator).
 *
 * Sizes (real ones are not documented; our choice, from what the kernels
 * keep): no workspace for any mode; a reserve space only when an
 * activation follows the normalization (CUDNN_BATCHNORM_OPS_BN_ACTIVATION,
 * _ADD_ACTIVATION): one bit per element of x, in 32-bit words, for the
 * backward of the activation.  Plain CUDNN_BATCHNORM_OPS_BN (what PyTorch
 * asks) needs none: the saved mean and inverse variance are the caller's
 * outputs. */
#include <cudnn.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/cudnn/cudnn_int.h"
#include "tests/sim/cudnn/cudnn_kernels.h"

#define SCD_TENSOR 0x63646e74u     /* "cdnt" */
#define SCD_ACTIVATION 0x63646e61u /* "cdna" */

struct cudnnTensorStruct {
	unsigned magic;
	cudnnDataType_t type;
	int nb;
	int dims[CUDNN_DIM_MAX];
	int strides[CUDNN_DIM_MAX];
};

struct cudnnActivationStruct {
	unsigned magic;
	cudnnActivationMode_t mode;
	cudnnNanPropagation_t nan;
	double coef;
};

/* ------------------------------------------------------------- tensors */

cudnnStatus_t CUDNNWINAPI cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc)
{
	struct cudnnTensorStruct *t;
	if (!tensorDesc)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateTensorDescriptor: NULL output");
	t = calloc(1, sizeof *t);
	if (!t)
		return CUDNN_STATUS_ALLOC_FAILED;
	t->magic = SCD_TENSOR;
	*tensorDesc = t;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
{
	if (tensorDesc && tensorDesc->magic != SCD_TENSOR)
		return CUDNN_STATUS_BAD_PARAM;
	if (tensorDesc) { /* NULL is allowed, as in cuDNN */
		tensorDesc->magic = 0;
		free(tensorDesc);
	}
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType,
						     int nbDims, const int dimA[], const int strideA[])
{
	int i;
	if (!tensorDesc || tensorDesc->magic != SCD_TENSOR || !dimA || !strideA)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensorNdDescriptor: bad descriptor or arrays");
	if (nbDims < 1 || nbDims > CUDNN_DIM_MAX)
		return mt__scd_fail(CUDNN_STATUS_NOT_SUPPORTED, "cudnnSetTensorNdDescriptor: %d dimensions", nbDims);
	for (i = 0; i < nbDims; i++)
		if (dimA[i] <= 0 || strideA[i] <= 0)
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensorNdDescriptor: dimension %d is %d, stride %d",
					    i, dimA[i], strideA[i]);
	tensorDesc->type = dataType;
	tensorDesc->nb = nbDims;
	memcpy(tensorDesc->dims, dimA, (size_t)nbDims * sizeof *dimA);
	memcpy(tensorDesc->strides, strideA, (size_t)nbDims * sizeof *strideA);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
						     cudnnDataType_t dataType, int n, int c, int h, int w)
{
	int dims[4] = {n, c, h, w}, nhwc[4] = {h * w * c, 1, w * c, c}, nchw[4] = {c * h * w, h * w, w, 1};
	return cudnnSetTensorNdDescriptor(tensorDesc, dataType, 4, dims, format == CUDNN_TENSOR_NHWC ? nhwc : nchw);
}

cudnnStatus_t CUDNNWINAPI cudnnGetTensorNdDescriptor(const cudnnTensorDescriptor_t tensorDesc, int nbDimsRequested,
						     cudnnDataType_t *dataType, int *nbDims, int dimA[], int strideA[])
{
	int i;
	if (!tensorDesc || tensorDesc->magic != SCD_TENSOR || nbDimsRequested < 0)
		return CUDNN_STATUS_BAD_PARAM;
	if (dataType)
		*dataType = tensorDesc->type;
	if (nbDims)
		*nbDims = tensorDesc->nb;
	for (i = 0; i < nbDimsRequested && i < tensorDesc->nb; i++) {
		if (dimA)
			dimA[i] = tensorDesc->dims[i];
		if (strideA)
			strideA[i] = tensorDesc->strides[i];
	}
	return CUDNN_STATUS_SUCCESS;
}

static int64_t elems(const struct cudnnTensorStruct *t)
{
	int64_t n = 1;
	int i;
	for (i = 0; i < t->nb; i++)
		n *= t->dims[i];
	return n;
}

static int valid_tensor(const struct cudnnTensorStruct *t)
{
	return t && t->magic == SCD_TENSOR && t->nb >= 1;
}

/* ---------------------------------------------------------- activation */

cudnnStatus_t CUDNNWINAPI cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *activationDesc)
{
	struct cudnnActivationStruct *a;
	if (!activationDesc)
		return CUDNN_STATUS_BAD_PARAM;
	a = calloc(1, sizeof *a);
	if (!a)
		return CUDNN_STATUS_ALLOC_FAILED;
	a->magic = SCD_ACTIVATION;
	a->mode = CUDNN_ACTIVATION_IDENTITY;
	*activationDesc = a;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetActivationDescriptor(cudnnActivationDescriptor_t activationDesc,
						       cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt,
						       double coef)
{
	if (!activationDesc || activationDesc->magic != SCD_ACTIVATION)
		return CUDNN_STATUS_BAD_PARAM;
	activationDesc->mode = mode;
	activationDesc->nan = reluNanOpt;
	activationDesc->coef = coef;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t activationDesc)
{
	if (activationDesc && activationDesc->magic != SCD_ACTIVATION)
		return CUDNN_STATUS_BAD_PARAM;
	if (activationDesc) {
		activationDesc->magic = 0;
		free(activationDesc);
	}
	return CUDNN_STATUS_SUCCESS;
}

/* ------------------------------------------------------- batch norm */

/* x and the per-channel descriptor agree with the mode: 1 x C x 1 x 1 for
 * the spatial modes, 1 x C x H x W per activation. */
static cudnnStatus_t check_bn(cudnnHandle_t h, cudnnBatchNormMode_t mode, const struct cudnnTensorStruct *x,
			      const struct cudnnTensorStruct *bn, const char *who)
{
	int i;
	if (!mt__scd_valid_handle(h))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "%s: bad handle", who);
	if (!valid_tensor(x) || !valid_tensor(bn) || x->nb < 4 || bn->nb != x->nb)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "%s: bad tensor descriptors", who);
	if (mode != CUDNN_BATCHNORM_PER_ACTIVATION && mode != CUDNN_BATCHNORM_SPATIAL &&
	    mode != CUDNN_BATCHNORM_SPATIAL_PERSISTENT)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "%s: mode %d", who, (int)mode);
	if (bn->dims[0] != 1 || bn->dims[1] != x->dims[1])
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "%s: scale/bias descriptor is not 1 x C", who);
	for (i = 2; i < x->nb; i++)
		if (bn->dims[i] != (mode == CUDNN_BATCHNORM_PER_ACTIVATION ? x->dims[i] : 1))
			return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "%s: scale/bias dimension %d does not fit the mode", who, i);
	return CUDNN_STATUS_SUCCESS;
}

static size_t reserve_bytes(cudnnBatchNormOps_t ops, const struct cudnnTensorStruct *x)
{
	return ops == CUDNN_BATCHNORM_OPS_BN ? 0 : (size_t)((elems(x) + 31) / 32) * 4;
}

static cudnnStatus_t launch(cudnnHandle_t h, int kernel, const struct cudnnTensorStruct *x)
{
	int64_t blocks = (elems(x) + 128 * 128 - 1) / (128 * 128);
	if (simcudnn_launch(kernel, (unsigned)(blocks < 1 ? 1 : blocks > 2147483647 ? 2147483647 : blocks), h->stream))
		return mt__scd_fail(CUDNN_STATUS_EXECUTION_FAILED, "batch norm: launch failed");
	mt__scd_count_launch();
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const cudnnTensorDescriptor_t xDesc,
	const cudnnTensorDescriptor_t zDesc, const cudnnTensorDescriptor_t yDesc,
	const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const cudnnActivationDescriptor_t activationDesc,
	size_t *sizeInBytes)
{
	cudnnStatus_t st = check_bn(handle, mode, xDesc, bnScaleBiasMeanVarDesc, "ForwardTrainingExWorkspaceSize");
	if (st != CUDNN_STATUS_SUCCESS)
		return st;
	if (!sizeInBytes)
		return CUDNN_STATUS_BAD_PARAM;
	*sizeInBytes = 0;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnGetBatchNormalizationBackwardExWorkspaceSize(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const cudnnTensorDescriptor_t xDesc,
	const cudnnTensorDescriptor_t yDesc, const cudnnTensorDescriptor_t dyDesc, const cudnnTensorDescriptor_t dzDesc,
	const cudnnTensorDescriptor_t dxDesc, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
	const cudnnActivationDescriptor_t activationDesc, size_t *sizeInBytes)
{
	cudnnStatus_t st = check_bn(handle, mode, xDesc, dBnScaleBiasDesc, "BackwardExWorkspaceSize");
	if (st != CUDNN_STATUS_SUCCESS)
		return st;
	if (!sizeInBytes)
		return CUDNN_STATUS_BAD_PARAM;
	*sizeInBytes = 0;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
	const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t xDesc, size_t *sizeInBytes)
{
	if (!mt__scd_valid_handle(handle) || !valid_tensor(xDesc) || !sizeInBytes)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "TrainingExReserveSpaceSize: bad arguments");
	*sizeInBytes = reserve_bytes(bnOps, xDesc);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnBatchNormalizationForwardTrainingEx(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void *alpha, const void *beta,
	const cudnnTensorDescriptor_t xDesc, const void *xData, const cudnnTensorDescriptor_t zDesc, const void *zData,
	const cudnnTensorDescriptor_t yDesc, void *yData, const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
	const void *bnScale, const void *bnBias, double exponentialAverageFactor, void *resultRunningMean,
	void *resultRunningVariance, double epsilon, void *resultSaveMean, void *resultSaveInvVariance,
	cudnnActivationDescriptor_t activationDesc, void *workspace, size_t workSpaceSizeInBytes, void *reserveSpace,
	size_t reserveSpaceSizeInBytes)
{
	cudnnStatus_t st = check_bn(handle, mode, xDesc, bnScaleBiasMeanVarDesc, "cudnnBatchNormalizationForwardTrainingEx");
	if (st != CUDNN_STATUS_SUCCESS)
		return st;
	if (!alpha || !beta || !xData || !yData || !bnScale || !bnBias || epsilon < CUDNN_BN_MIN_EPSILON)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBatchNormalizationForwardTrainingEx: bad arguments");
	if (reserveSpaceSizeInBytes < reserve_bytes(bnOps, xDesc))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBatchNormalizationForwardTrainingEx: reserve space too small");
	return launch(handle, SCD_K_BN_FWD_TRAIN, xDesc);
}

cudnnStatus_t CUDNNWINAPI cudnnBatchNormalizationBackwardEx(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void *alphaDataDiff,
	const void *betaDataDiff, const void *alphaParamDiff, const void *betaParamDiff,
	const cudnnTensorDescriptor_t xDesc, const void *xData, const cudnnTensorDescriptor_t yDesc, const void *yData,
	const cudnnTensorDescriptor_t dyDesc, const void *dyData, const cudnnTensorDescriptor_t dzDesc, void *dzData,
	const cudnnTensorDescriptor_t dxDesc, void *dxData, const cudnnTensorDescriptor_t dBnScaleBiasDesc,
	const void *bnScaleData, const void *bnBiasData, void *dBnScaleData, void *dBnBiasData, double epsilon,
	const void *savedMean, const void *savedInvVariance, cudnnActivationDescriptor_t activationDesc,
	void *workSpace, size_t workSpaceSizeInBytes, void *reserveSpace, size_t reserveSpaceSizeInBytes)
{
	cudnnStatus_t st = check_bn(handle, mode, xDesc, dBnScaleBiasDesc, "cudnnBatchNormalizationBackwardEx");
	if (st != CUDNN_STATUS_SUCCESS)
		return st;
	if (!xData || !dyData || !dxData || !dBnScaleData || !dBnBiasData || epsilon < CUDNN_BN_MIN_EPSILON)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBatchNormalizationBackwardEx: bad arguments");
	if (reserveSpaceSizeInBytes < reserve_bytes(bnOps, xDesc))
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBatchNormalizationBackwardEx: reserve space too small");
	return launch(handle, SCD_K_BN_BWD, xDesc);
}

cudnnStatus_t CUDNNWINAPI cudnnBatchNormalizationForwardInference(
	cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
	const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
	const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
	const void *estimatedMean, const void *estimatedVariance, double epsilon)
{
	cudnnStatus_t st = check_bn(handle, mode, xDesc, bnScaleBiasMeanVarDesc, "cudnnBatchNormalizationForwardInference");
	if (st != CUDNN_STATUS_SUCCESS)
		return st;
	if (!x || !y || !estimatedMean || !estimatedVariance || epsilon < CUDNN_BN_MIN_EPSILON)
		return mt__scd_fail(CUDNN_STATUS_BAD_PARAM, "cudnnBatchNormalizationForwardInference: bad arguments");
	return launch(handle, SCD_K_BN_FWD_INF, xDesc);
}
