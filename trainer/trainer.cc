#include "trainer/trainer.h"

#include <cstdio>

#include "trainer/step_runner.h"
#include "trainer/train_loop.h"
#include "trainer/training_session.h"

namespace msrec {

std::string PhaseTimes::ToString() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "read %.2fs pull %.2fs compute %.2fs push %.2fs", read, pull,
                compute, push);
  return buf;
}

Result<TrainResult> Train(JobSpec spec, const TrainOptions& options) {
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<TrainingSession> session,
                         TrainingSession::Open(std::move(spec), options));
  MSREC_ASSIGN_OR_RETURN(std::unique_ptr<StepRunner> step, MakeTrainStep(*session));
  MSREC_ASSIGN_OR_RETURN(const TrainingPosition start, session->Start());
  TrainLoop loop(*session, *step);
  MSREC_ASSIGN_OR_RETURN(TrainResult result, loop.Run(start));
  if (!result.stopped) MSREC_RETURN_IF_ERROR(session->Finish());
  return result;
}

}  // namespace msrec
