#include "trainer/train_loop.h"

#include <cmath>

namespace msrec {

TrainLoop::TrainLoop(TrainingSession& session, StepRunner& step)
    : session_(session),
      step_(step),
      options_(session.options()),
      keeper_(options_.early_stopping_patience, session.dir(), &session.model(), session.ps(),
              session.workers()) {}

bool TrainLoop::MaxStepsReached(int64_t step) const {
  return options_.max_steps > 0 && step >= options_.max_steps;
}

Result<TrainResult> TrainLoop::Run(const TrainingPosition& start) {
  result_.steps = result_.resumed_from_step = start.step;
  result_.last_checkpoint = result_.resumed_from = session_.checkpointer().last_path();
  timer_.Reset();
  bool done = MaxStepsReached(start.step);
  for (int epoch = start.epoch; epoch <= options_.epochs && !done; ++epoch) {
    MSREC_ASSIGN_OR_RETURN(std::unique_ptr<StepSource> source, session_.OpenEpoch(epoch));
    MSREC_RETURN_IF_ERROR(step_.BeginEpoch(epoch));
    const int64_t skip = epoch == start.epoch ? start.epoch_steps : 0;
    MSREC_ASSIGN_OR_RETURN(const int64_t epoch_steps, RunEpoch(epoch, skip, *source, &done));
    if (source->stopped()) return Stopped(epoch, epoch_steps);
    MSREC_RETURN_IF_ERROR(EndEpoch(epoch, epoch_steps, *source, &done));
  }
  result_.train_seconds += timer_.Seconds();
  if (std::ostream* metrics = session_.metrics()) {
    const PhaseTimes& p = result_.phases;
    *metrics << "{\"event\":\"phases\",\"steps\":" << result_.steps << ",\"samples\":"
             << result_.samples << ",\"seconds\":" << result_.train_seconds << ",\"read\":" << p.read
             << ",\"pull\":" << p.pull << ",\"compute\":" << p.compute << ",\"push\":" << p.push
             << "}\n";
  }
  MSREC_RETURN_IF_ERROR(keeper_.RestoreBest(result_.steps));
  result_.val = keeper_.best_val();
  result_.best_epoch = keeper_.best_epoch();
  if (!options_.test_files.empty()) {
    MSREC_ASSIGN_OR_RETURN(result_.test, session_.Evaluate(options_.test_files));
    MSREC_RETURN_IF_ERROR(LogEvaluation("test", result_.test));
    if (std::ostream* metrics = session_.metrics()) {
      *metrics << "{\"event\":\"eval\",\"split\":\"test\",\"step\":" << result_.steps
               << ",\"metrics\":" << result_.test.ToJson() << "}\n";
    }
  }
  return result_;
}

Result<bool> TrainLoop::ReadAhead(StepSource& source, int64_t for_step) {
  Timer read;
  MSREC_ASSIGN_OR_RETURN(bool more, source.Next(&next_batch_, &next_rows_));
  result_.phases.read += read.Seconds();
  if (!more) return false;
  Timer pull;
  MSREC_ASSIGN_OR_RETURN(next_lookup_, session_.bridge().Start(next_batch_, for_step));
  result_.phases.pull += pull.Seconds();
  return true;
}

void TrainLoop::CountStep(const Batch& batch, int64_t* epoch_steps) {
  ++*epoch_steps;
  epoch_trained_rows_ += batch.size;
  if (batch.size == 0) ++epoch_empty_steps_;
}

// Returns the steps done in the epoch (those skipped on resume included).
Result<int64_t> TrainLoop::RunEpoch(int epoch, int64_t skip_steps, StepSource& source,
                                    bool* done) {
  session_.model().train();
  Batch batch;
  int64_t epoch_steps = 0, rows = 0;
  epoch_trained_rows_ = epoch_empty_steps_ = 0;
  // Resuming mid-epoch: the batches the checkpoint had trained on are read
  // and skipped (the same order, so the same batches follow).
  while (epoch_steps < skip_steps) {
    MSREC_ASSIGN_OR_RETURN(bool more, source.Next(&batch, &rows));
    if (!more) break;
    CountStep(batch, &epoch_steps);
  }
  bool have_next = false;
  if (!MaxStepsReached(result_.steps)) {
    MSREC_ASSIGN_OR_RETURN(have_next, ReadAhead(source, result_.steps + 1));
  }
  while (have_next) {
    std::swap(batch, next_batch_);
    rows = next_rows_;
    const int64_t step = ++result_.steps;
    Timer phase;
    Result<EmbeddingLookup> pulled =
        session_.bridge().Finish(std::move(next_lookup_), batch, /*requires_grad=*/true);
    if (!pulled.ok()) return ExplainServerTimeout(session_.workers(), pulled.status());
    EmbeddingLookup lookup = std::move(pulled).value();
    result_.phases.pull += phase.Seconds();
    // The next batch is read and its rows requested before this step
    // computes: the server fetches them from its store meanwhile (a
    // synchronous server answers once this step's push is applied).
    const bool last_step = MaxStepsReached(step);
    have_next = false;
    if (!last_step) {
      MSREC_ASSIGN_OR_RETURN(have_next, ReadAhead(source, step + 1));
    }
    phase.Reset();
    // Rows-weighted: the workers' mean gradient is the mean over the step's rows.
    if (const WorkerGroup* w = session_.workers()) {
      session_.set_step_weight(StepWeight(w->size(), batch.size, rows));
    }
    MSREC_ASSIGN_OR_RETURN(const torch::Tensor loss, step_.Run(batch, lookup, step));
    result_.phases.compute += phase.Seconds();
    phase.Reset();
    PendingPush push = session_.bridge().StartPush(lookup, step);
    MSREC_RETURN_IF_ERROR(ExplainServerTimeout(session_.workers(), push.Wait()));
    result_.phases.push += phase.Seconds();
    CountStep(batch, &epoch_steps);
    MSREC_RETURN_IF_ERROR(AfterStep(epoch, step, epoch_steps, rows, loss, source));
    if (last_step) *done = true;
  }
  return epoch_steps;
}

Status TrainLoop::AfterStep(int epoch, int64_t step, int64_t epoch_steps, int64_t rows,
                            const torch::Tensor& loss, StepSource& source) {
  result_.samples += rows;
  if (loss.defined()) {
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      return Status::Internal("loss is " + std::to_string(loss_value) + " at step " +
                              std::to_string(step) + "; lower the learning rates");
    }
    progress_.Add(rows, loss_value);
  } else {  // a zero-weight step: this worker's slice is done
    progress_.AddSamples(rows);
  }
  if (step == 1) MSREC_RETURN_IF_ERROR(session_.CheckSameParameters());
  if (session_.chief() && step % options_.log_every == 0) {
    const double fraction = options_.max_steps > 0
                                ? double(step) / options_.max_steps
                                : (epoch - 1 + source.reader().Progress()) / options_.epochs;
    const auto [loss, rate] = progress_.Log(epoch, step, fraction, timer_.Seconds(),
                                            step_.ProgressNote(), session_.metrics());
    if (EventWriter* events = session_.events()) {
      MSREC_RETURN_IF_ERROR(events->AddScalar("train/loss", step, loss));
      MSREC_RETURN_IF_ERROR(events->AddScalar("train/samples_per_sec", step, rate));
      MSREC_RETURN_IF_ERROR(events->Flush());
    }
  }
  TrainCheckpointer& checkpointer = session_.checkpointer();
  if (checkpointer.due(step)) MSREC_RETURN_IF_ERROR(checkpointer.Save({step, epoch, epoch_steps}));
  return Status::OK();
}

Status TrainLoop::EndEpoch(int epoch, int64_t epoch_steps, StepSource& source, bool* done) {
  MSREC_RETURN_IF_ERROR(step_.EndEpoch(epoch));
  TrainCheckpointer& checkpointer = session_.checkpointer();
  if (source.exhausted() ? checkpointer.at_epoch_end() : checkpointer.enabled()) {
    // The epoch ended (next: epoch + 1 from its start) or max_steps did.
    const TrainingPosition position = source.exhausted()
                                          ? TrainingPosition{result_.steps, epoch + 1, 0}
                                          : TrainingPosition{result_.steps, epoch, epoch_steps};
    if (!checkpointer.due(result_.steps) || source.exhausted()) {
      MSREC_RETURN_IF_ERROR(checkpointer.Save(position));
    }
  }
  result_.last_checkpoint = checkpointer.last_path();
  LOG(INFO) << "epoch " << epoch << " read: " << source.reader().stats().ToString();
  LOG(INFO) << "epoch " << epoch << ": " << session_.WorkerName() << " trained "
            << epoch_trained_rows_ << " rows in " << epoch_steps << " steps"
            << (epoch_empty_steps_ > 0 ? " (" + std::to_string(epoch_empty_steps_) +
                                             " of them with an empty batch: its slice was done)"
                                       : std::string());
  MSREC_RETURN_IF_ERROR(session_.CheckSameParameters());
  LOG(INFO) << "time so far: " << result_.phases.ToString();
  if (options_.val_files.empty()) {
    keeper_.EndOfEpochWithoutValidation(epoch);
    return Status::OK();
  }
  return Validate(epoch, done);
}

Status TrainLoop::Validate(int epoch, bool* done) {
  const double paused = timer_.Seconds();
  MSREC_ASSIGN_OR_RETURN(EvalMetrics val, session_.Evaluate(options_.val_files));
  LOG(INFO) << "epoch " << epoch << " validation:\n"
            << val.ToTable(session_.scenario_map().values());
  if (std::ostream* metrics = session_.metrics()) {
    *metrics << "{\"event\":\"eval\",\"split\":\"val\",\"epoch\":" << epoch
             << ",\"step\":" << result_.steps << ",\"metrics\":" << val.ToJson() << "}\n";
    metrics->flush();
  }
  MSREC_RETURN_IF_ERROR(LogEvaluation("val", val));
  MSREC_ASSIGN_OR_RETURN(const bool stop, keeper_.EndOfEpoch(epoch, val, result_.steps));
  *done = *done || stop;  // max_steps may have ended the job already
  result_.train_seconds -= timer_.Seconds() - paused;
  return Status::OK();
}

// TensorBoard scalars of an evaluation: <split>/auc|logloss|gauc, overall and
// /<scenario>.
Status TrainLoop::LogEvaluation(const std::string& split, const EvalMetrics& m) {
  EventWriter* events = session_.events();
  if (events == nullptr) return Status::OK();
  const std::vector<std::string> names = session_.scenario_map().values();
  auto log = [&](const std::string& suffix, const GroupMetrics& g) -> Status {
    MSREC_RETURN_IF_ERROR(events->AddScalar(split + "/auc" + suffix, result_.steps, g.auc));
    MSREC_RETURN_IF_ERROR(events->AddScalar(split + "/logloss" + suffix, result_.steps, g.logloss));
    if (g.gauc >= 0) MSREC_RETURN_IF_ERROR(events->AddScalar(split + "/gauc" + suffix, result_.steps, g.gauc));
    return Status::OK();
  };
  MSREC_RETURN_IF_ERROR(log("", m.overall));
  for (size_t k = 0; k < m.per_scenario.size() && k < names.size(); ++k) {
    MSREC_RETURN_IF_ERROR(log("/" + names[k], m.per_scenario[k]));
  }
  return events->Flush();
}

// SIGTERM/SIGINT: checkpoints the finished steps and returns.
Result<TrainResult> TrainLoop::Stopped(int epoch, int64_t epoch_steps) {
  TrainCheckpointer& checkpointer = session_.checkpointer();
  if (checkpointer.enabled()) {
    MSREC_RETURN_IF_ERROR(checkpointer.Save({result_.steps, epoch, epoch_steps}));
  }
  result_.stopped = true;
  result_.last_checkpoint = checkpointer.last_path();
  result_.train_seconds += timer_.Seconds();
  LOG(INFO) << "stopped at step " << result_.steps << " on request"
            << (checkpointer.enabled() ? "; checkpoint " + checkpointer.last_path()
                                       : std::string("; no checkpoint (--checkpoint_dir)"));
  return result_;
}

}  // namespace msrec
