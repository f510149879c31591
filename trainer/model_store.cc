#include "trainer/model_store.h"

namespace msrec {

Result<std::unique_ptr<EmbeddedPs>> StartModelStore(const std::string& kind,
                                                    const std::string& model_dir,
                                                    ModelStoreUse use, int64_t memory_mb,
                                                    const std::string& path) {
  ServerOptions options;
  options.store.kind = kind;
  options.store.path = !path.empty() ? path
                       : kind == "memory" ? model_dir + "/embeddings.bin"
                                          : model_dir + "/embeddings";
  options.store.fresh = use == ModelStoreUse::kTrain;
  options.store.memory_mb = memory_mb;
  options.persist = use == ModelStoreUse::kTrain;
  options.server.stats_interval_s = 0;  // the trainer logs the statistics at the end
  return EmbeddedPs::Start(options);
}

}  // namespace msrec
