#include "trainer/internal/model_store.h"

#include "trainer/model_dir.h"

namespace msrec {

Result<std::unique_ptr<EmbeddedPs>> StartModelStore(const std::string& kind,
                                                    const std::string& model_dir,
                                                    ModelStoreUse use,
                                                    const ServerSettings& settings) {
  ServerOptions options = ServerOptionsAt(kind, ModelDir(model_dir).embeddings_base(), settings);
  options.store.fresh = use == ModelStoreUse::kTrain;
  options.persist = use == ModelStoreUse::kTrain;
  options.server.stats_interval_s = 0;  // one statistics line when the server ends
  return EmbeddedPs::Start(options);
}

}  // namespace msrec
