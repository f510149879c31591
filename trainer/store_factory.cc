#include "trainer/store_factory.h"
#include "common/file_util.h"


#include "parameter_server/local_client.h"
#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"

namespace msrec {

Result<EmbeddedStore> OpenEmbeddedStore(const std::string& kind, const std::string& model_dir,
                                        bool load) {
  EmbeddedStore out;
  out.kind = kind;
  out.model_dir = model_dir;
  std::unique_ptr<EmbeddingStore> store;
  if (kind == "rocksdb") {
    MSREC_ASSIGN_OR_RETURN(store, OpenRocksDbStore(model_dir + "/embeddings", RocksDbStoreOptions()));
  } else if (kind == "memory") {
    store = MakeMemoryStore();
    if (load) MSREC_RETURN_IF_ERROR(LoadStore(model_dir + "/embeddings.bin", store.get()));
  } else {
    return Status::InvalidArgument("unknown store kind '" + kind + "' (memory, rocksdb)");
  }
  out.store = store.get();
  out.client = MakeLocalClient(std::move(store));
  return out;
}

Status EmbeddedStore::Snapshot(const std::string& path) {
  MSREC_RETURN_IF_ERROR(client->Flush());
  return SaveStore(*store, path);
}

Status EmbeddedStore::Restore(const std::string& path, const TableConfig& table) {
  client.reset();
  store = nullptr;
  if (kind == "rocksdb") {
    MSREC_RETURN_IF_ERROR(RemoveTree(model_dir + "/embeddings"));
  }
  MSREC_ASSIGN_OR_RETURN(EmbeddedStore fresh, OpenEmbeddedStore(kind, model_dir, /*load=*/false));
  MSREC_RETURN_IF_ERROR(LoadStore(path, fresh.store));
  store = fresh.store;
  client = std::move(fresh.client);
  return client->CreateTable(table);
}

Status EmbeddedStore::Save() {
  MSREC_RETURN_IF_ERROR(client->Flush());
  if (kind == "memory") return SaveStore(*store, model_dir + "/embeddings.bin");
  return Status::OK();
}

}  // namespace msrec
