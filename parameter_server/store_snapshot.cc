#include "parameter_server/store_snapshot.h"

#include <sys/stat.h>

#include "parameter_server/memory_store.h"
#include "parameter_server/rocksdb_store.h"

namespace msrec {

Result<std::unique_ptr<EmbeddingStore>> OpenStoreSnapshot(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::IoError("cannot open " + path);
  if (S_ISDIR(st.st_mode)) {
    RocksDbStoreOptions read_only;
    read_only.read_only = true;
    read_only.create_if_missing = false;
    read_only.block_cache_bytes = size_t{8} << 20;  // one sequential scan
    return OpenRocksDbStore(path, read_only);
  }
  std::unique_ptr<EmbeddingStore> dump = MakeMemoryStore();
  MSREC_RETURN_IF_ERROR(LoadStore(path, dump.get()));
  return dump;
}

}  // namespace msrec
