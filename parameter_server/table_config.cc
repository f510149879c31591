#include "parameter_server/table_config.h"

namespace msrec {

bool ParseSparseOptimizerKind(const std::string& name, SparseOptimizerKind* kind) {
  if (name == "sgd") {
    *kind = SparseOptimizerKind::kSgd;
  } else if (name == "adagrad") {
    *kind = SparseOptimizerKind::kAdagrad;
  } else if (name == "adam") {
    *kind = SparseOptimizerKind::kAdam;
  } else if (name == "rowwise_adagrad") {
    *kind = SparseOptimizerKind::kRowwiseAdagrad;
  } else if (name == "ftrl") {
    *kind = SparseOptimizerKind::kFtrl;
  } else {
    return false;
  }
  return true;
}

}  // namespace msrec
