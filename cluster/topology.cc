#include "cluster/topology.h"

namespace msrec {

std::string Topology::ToString() const {
  const char* role_name = role == Role::kWorker ? "worker" : role == Role::kServer ? "server" : "worker+server";
  return "rank " + std::to_string(rank) + "/" + std::to_string(world_size) + " (" + role_name +
         ", local rank " + std::to_string(local_rank) + ", servers " + std::to_string(num_servers) + ")";
}

}  // namespace msrec
