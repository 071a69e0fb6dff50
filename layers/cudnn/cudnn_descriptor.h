// RAII for cuDNN descriptors, shared by the files of layers/cudnn (internal: includes
// cudnn.h, so only .cc/.cu files of this folder include it).
//
//   using RnnDescriptor = CudnnDescriptor<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor,
//                                         cudnnDestroyRNNDescriptor>;
//
// Created in the constructor (a cuDNN failure throws std::runtime_error through
// RNNLAB_CUDNN_CHECK), destroyed once in the destructor; not copyable.
#pragma once

#include <cudnn.h>

#include "layers/cuda/device.h"

namespace rnnlab::layers::cudnn_detail {

template <typename Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
struct CudnnDescriptor {
  Handle desc = nullptr;
  CudnnDescriptor() { RNNLAB_CUDNN_CHECK(Create(&desc)); }
  ~CudnnDescriptor() { Destroy(desc); }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
};

using TensorDescriptorHandle =
    CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;

}  // namespace rnnlab::layers::cudnn_detail
