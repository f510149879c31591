// Each models/ file registers its own models; BuiltinModels() (registry.cc)
// calls every function below. Add a line here and there for a new family.
#pragma once

#include "models/model.h"

namespace msrec {

void RegisterBackbones(ModelRegistry* registry);            // backbones.cc: dnn
void RegisterMultiScenarioModels(ModelRegistry* registry);  // multi_scenario.cc: mt_backbone

}  // namespace msrec
