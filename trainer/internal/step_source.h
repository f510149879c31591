// Where the training loop gets each step's batch. One process reads its
// reader (LocalSteps); a data-parallel worker also agrees with the other
// workers on every step (AgreedSteps in distributed.h), so that an epoch ends
// for every worker at once and a stop request on any worker stops all.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "trainer/data/reader.h"

namespace msrec {

class StepSource {
 public:
  virtual ~StepSource() = default;
  // The next step's batch: false ends the epoch. *global_rows: the step's
  // rows over all workers. Non-empty, except for a data-parallel worker whose
  // slice is done while another worker's is not (it joins the step with zero
  // weight).
  virtual Result<bool> Next(Batch* batch, int64_t* global_rows) = 0;
  // True once Next ended the epoch because a stop was requested (any worker).
  bool stopped() const { return stopped_; }
  // True once Next ended the epoch because the data ran out (any worker's).
  bool exhausted() const { return exhausted_; }
  // The reader underneath (stats and progress).
  virtual Reader& reader() = 0;

 protected:
  bool stopped_ = false;
  bool exhausted_ = false;
};

// One process: the reader's non-empty batches until it ends or
// `stop_requested` (not owned, may be null) becomes true.
std::unique_ptr<StepSource> LocalSteps(std::unique_ptr<Reader> reader,
                                       const std::atomic<bool>* stop_requested);

}  // namespace msrec
