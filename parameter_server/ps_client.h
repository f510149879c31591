// PsClient: how a worker reads and updates sparse embedding rows. The local
// (in-process) client and the remote client over MPI implement it, so the
// trainer never knows which one it talks to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "parameter_server/table_config.h"

namespace msrec {

class PsClient {
 public:
  virtual ~PsClient() = default;

  // Creates `config.name` if it does not exist; an existing table must have the
  // same dim and optimizer, else InvalidArgument.
  virtual Status CreateTable(const TableConfig& config) = 0;

  // Reads the weights of `n` keys into `weights` (n x dim floats, caller-owned).
  // Keys without a row get their deterministic initial value (a function of the
  // key and table seed only, so any server count gives the same value).
  // Keys need not be unique. Does not change any row.
  virtual Status Pull(const std::string& table, const uint64_t* keys, size_t n, float* weights) = 0;

  // Applies the server-side optimizer to the rows of `n` UNIQUE keys with
  // gradients `grads` (n x dim floats) at global step `step` (>= 1). Creates
  // missing rows (from their initial value) first, bumps frequency, sets last step.
  virtual Status Push(const std::string& table, const uint64_t* keys, size_t n, const float* grads,
                      int64_t step) = 0;

  // Makes every update durable in the backing store (flushes caches).
  virtual Status Flush() = 0;
};

}  // namespace msrec
