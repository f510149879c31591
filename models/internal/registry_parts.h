// Each models/ file registers its own models; BuiltinModels() (registry.cc)
// calls every function below. Add a line here and there for a new family.
#pragma once

#include "models/model.h"

namespace msrec {

// backbones.cc: dnn, deepfm, dcn
void RegisterBackbones(ModelRegistry* registry);
// multi_scenario.cc: mt_backbone, star, mmoe, ple, hmoe, pepnet
void RegisterMultiScenarioModels(ModelRegistry* registry);
// midpg.cc: midpg
void RegisterMidpg(ModelRegistry* registry);

}  // namespace msrec
