// SSIM's search phase (docs/ssim.md): one epoch of MT-Backbone training with
// the selection network's straight-through sharing mask, and the selector
// artefact it writes. The artefact directory holds:
//   job.txt           the backbone's JobSpec (model, shapes, schema, table and seed)
//   scenario_map.tsv  the scenario map of the search (retraining must use the same)
//   ssim.txt          SsimSettings as key=value lines
//   selector.pt       the selection network's parameters (LibTorch archive)
//   embeddings.bin    the embedding store after the search epoch (SaveStore format):
//                     the frozen search-phase embeddings the selector reads
//   initial_dense.pt  the backbone's dense parameters BEFORE the search epoch; the
//                     initial embedding rows are a function of key and job.txt's seed
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/ssim.h"
#include "trainer/trainer.h"

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
  int batch_size = 2048;                           // search mini-batch
  int64_t steps_in_epoch = 0;                      // batches per epoch for the schedule; 0 = count
                                                   // them with one reading pass before the search
};

struct SsimSearchOptions {
  std::vector<std::string> train_files;  // the search epoch's data
  std::string output_dir;                // the artefact directory (created)
  std::string scenario_map_file;         // fixed scenario map; empty = built from train files
  SsimSettings settings;
  int64_t max_steps = 0;       // > 0: stop the epoch after this many steps
  int intra_op_threads = 1;    // LibTorch intra-op threads
  int reader_threads = 1;      // parser threads
  int64_t max_bad_rows = 100;  // fail once more rows than this are bad
  int64_t log_every = 50;      // progress line every N steps
  uint64_t seed = 2022;        // torch and embedding-initialisation seed
};

struct SsimSearchResult {
  int64_t steps = 0;
  int64_t samples = 0;
  double seconds = 0;               // the search loop only (counting and saving excluded)
  double shared_fraction = 0;       // mean g over the epoch
  double last_shared_fraction = 0;  // mean g of the last step
};

// Runs the search epoch for `spec` (its model must be mt_backbone; the
// `backbone` option picks dnn, deepfm or dcn) and writes the artefact.
Result<SsimSearchResult> SsimSearch(JobSpec spec, const SsimSearchOptions& options);

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
