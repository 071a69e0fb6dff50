// Factory of the NCCL communicator (dist/nccl/nccl_communicator.cc), built when the GPU path
// and MPI are both on. No nccl.h, cuda_runtime.h or mpi.h here: the class lives in the .cc.
//
// What it is: the dist::Communicator for data-parallel training with one GPU per rank.
//   - Bootstrap: an MPI communicator (dist/mpi/) is created first; rank 0's ncclUniqueId
//     reaches the others with MPI_Bcast (broadcast_bytes); each rank selects GPU
//     `local_rank % device_count` (local rank from MPI_Comm_split_type SHARED). Every rank
//     votes on having a device before NCCL starts, so a rank without one fails every rank
//     with a RankFailure naming it instead of leaving the others in ncclCommInitRank.
//   - FLOAT collectives (all_reduce(float*), broadcast(float*), start_all_reduce, wait,
//     raw_all_reduce_sum) take DEVICE pointers on the rank's GPU. They run on the
//     communicator's own CUDA stream: the caller must have finished writing the buffer
//     (synchronised its own stream) before the call, and may use the result when a
//     blocking call or wait() returns. ReduceOp::average is ncclAvg.
//   - double/byte collectives, barrier and the build/metric traffic run over the MPI
//     communicator it was bootstrapped on, on HOST pointers.
//   - Timeouts: every NCCL operation is waited for by polling ncclCommGetAsyncError and the
//     stream; past timeout_seconds the NCCL communicator is aborted (ncclCommAbort) and
//     RankFailure "rank R: timed out after T s in all_reduce(<label>, <context>); NCCL
//     communicator aborted" is thrown. An asynchronous NCCL error aborts it too and throws
//     std::runtime_error naming the rank, the operation and NCCL's message.
//   - fail() ends the job through MPI_Abort, like the MPI communicator.
// Thread safety and ownership as in dist/communicator.h. Progress modes are accepted and
// reported but change nothing: NCCL progresses on the GPU by itself.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace rnnlab::dist {

// Throws std::runtime_error without a CUDA device on some rank (RankFailure, every rank),
// std::runtime_error for an NCCL/CUDA/MPI failure.
std::unique_ptr<Communicator> create_nccl_communicator(const CommunicatorOptions& options);

}  // namespace rnnlab::dist
