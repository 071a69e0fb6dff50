// Factory of the Open MPI communicator (dist/mpi/mpi_communicator.cc). No mpi.h here: the
// class itself lives in the .cc so that only that file sees the vendor header.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace rnnlab::dist {

std::unique_ptr<Communicator> create_mpi_communicator(const CommunicatorOptions& options);

}  // namespace rnnlab::dist
