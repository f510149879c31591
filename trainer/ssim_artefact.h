// SSIM's selector artefact (docs/ssim.md): what `msrec ssim-search` writes and
// the retrain reads. The artefact is a model directory (model_dir.h) of the
// search's backbone, plus:
//   ssim.txt          SsimSettings as key=value lines
//   selector.pt       the selection network's parameters (LibTorch archive)
//   initial_dense.pt  the backbone's dense parameters BEFORE the search epoch; the
//                     initial embedding rows are a function of key and job.txt's seed
// Its embeddings.bin holds the rows after the search epoch: the frozen
// search-phase embeddings the selector reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/ssim.h"
#include "trainer/job_spec.h"

namespace msrec {

// The hyperparameters of the search, saved in the artefact's ssim.txt.
struct SsimSettings {
  std::vector<int64_t> selector_hidden = {256, 128, 64};  // selection MLP hidden sizes
  double eps = 0.5;                                // mask threshold: shared iff sigmoid(t m) > eps
  double t_final = 1000;                           // temperature at the epoch's last step
  double mask_lambda = 0.4;                        // weight of the mask loss
  MaskLossForm mask_loss = MaskLossForm::kLinear;  // linear (default), log, none (SSIM-NK)
  double backbone_lr = 1e-3;                       // backbone dense Adam step size
  double backbone_weight_decay = 1e-7;             // backbone dense Adam weight decay
  double selector_lr = 1e-5;                       // selection network Adam step size
  int batch_size = 2048;                           // search mini-batch (per worker)
  int64_t steps_in_epoch = 0;                      // steps of the epoch for the schedule; 0 = count
                                                   // them with one reading pass before the search
  double learned_share = -1;  // written by the search: the mean share g the selector chose over
                              // the epoch (-1: unknown)
  double validated_share = -1;  // written by the share sweep (ValidateShare): the share whose
                                // short retrain scored best on validation (-1: no sweep); the
                                // retrain's default top-k, else learned_share
};

// A selector artefact read back (files listed above).
struct SsimArtefact {
  std::string dir;
  JobSpec backbone;       // job.txt
  SsimSettings settings;  // ssim.txt
};
Result<SsimArtefact> LoadSsimArtefact(const std::string& dir);

Status SaveSsimSettings(const SsimSettings& settings, const std::string& path);
Result<SsimSettings> LoadSsimSettings(const std::string& path);

}  // namespace msrec
