// What a trained model is (JobSpec, saved as job.txt) and how its instances
// train the scenarios' paths (TrainMode).
#pragma once

#include <string>

#include "models/model.h"
#include "parameter_server/table_config.h"

namespace msrec {

// Everything needed to rebuild a model for eval/predict; saved as job.txt.
struct JobSpec {
  std::string model = "mt_backbone";  // registry name
  ModelConfig model_config;           // shapes filled from the schema and scenario map
  std::string schema;                 // schema spec string (see docs/data.md)
  TableConfig table;                  // the embedding table and its sparse optimizer
  std::string store = "memory";       // "memory" (dumped to embeddings.bin) or "rocksdb"
  int label_index = 0;                // which label column is the task's target
  bool scenario_private_embeddings = false;  // every scenario has its own rows (ST-Backbone)
};

// How instances train the scenarios' paths (MODELS.md, "training modes").
enum class TrainMode {
  kMultiTask,  // "mt": instance i trains only its scenario's path (MT-Backbone and the rest)
  kAllShared,  // "all_shared": every instance trains every scenario's path (MT-Backbone-S)
  kSingle,     // "st": independent models per scenario: scenario-private embeddings and
               // the model's own routing (ST-Backbone with mt_backbone)
  kFinetune,   // "finetune": the first finetune_shared_epochs train scenario 0's path on all
               // data and hand it to every scenario (Model::HandOverFirstScenario); later
               // epochs train per scenario
};
bool ParseTrainMode(const std::string& name, TrainMode* mode);

}  // namespace msrec
