#include "trainer/internal/step_source.h"

namespace msrec {
namespace {

class LocalStepSource : public StepSource {
 public:
  LocalStepSource(std::unique_ptr<Reader> reader, const std::atomic<bool>* stop_requested)
      : reader_(std::move(reader)), stop_requested_(stop_requested) {}

  Result<bool> Next(Batch* batch, int64_t* global_rows) override {
    *global_rows = 0;
    if (stop_requested_ != nullptr && stop_requested_->load()) {
      stopped_ = true;
      return false;
    }
    while (true) {
      MSREC_ASSIGN_OR_RETURN(bool more, reader_->Next(batch));
      if (!more) break;
      if (batch->size == 0) continue;
      *global_rows = batch->size;
      return true;
    }
    exhausted_ = true;
    return false;
  }
  Reader& reader() override { return *reader_; }

 private:
  std::unique_ptr<Reader> reader_;
  const std::atomic<bool>* stop_requested_;
};

}  // namespace

std::unique_ptr<StepSource> LocalSteps(std::unique_ptr<Reader> reader,
                                       const std::atomic<bool>* stop_requested) {
  return std::make_unique<LocalStepSource>(std::move(reader), stop_requested);
}

}  // namespace msrec
